"""The media nodes' stack: an ECS Fargate service of ``infra/media-node/Dockerfile``'s image.

Each task has its own public IP (``awsvpc``, ``AssignPublicIp``) and a security group
open on the ICE UDP range and the signaling port; ECS checks the node's ``GET /health``;
the service scales on ``DropOn/NodeLoad`` (dimension ``Stage``), which every node prints
as an EMF line that ``awslogs`` ships (``media_node/telemetry/load.py``). A task told to
stop drains for ``DROPON_DRAIN_SECONDS`` (``DrainSeconds``), under ``stopTimeout``
(Fargate's most, 120) after which it is killed; deployments start new tasks before
stopping old ones, and a node carrying calls keeps ECS task scale-in protection, so
that neither a deployment nor a scale-in stops it until its calls end
(``media_node/ecs/``). Each task names itself after its task id and announces its
public address (``DROPON_NODE_PUBLIC_URL_TEMPLATE``).

The container's environment is the image's (``DROPON_NODE_HOST``, ``DROPON_FANOUT``,
...) plus what only the stack knows; ``tests/integration/test_infra_media_node.py``
checks that the two agree with each other and with ``make run``.
"""
from __future__ import annotations

from .iam import (DESTINATION_ROLES, assume_destination_role_statement, kms_statement,
                  log_group, log_statement, role)

NAMESPACE = "DropOn"  # the nodes' and the control plane's CloudWatch namespace
LOAD_METRIC = "NodeLoad"  # percent of a node's capacity in use (autoscaling tracks it)
CONTAINER = "media-node"
STOP_TIMEOUT = 120  # Fargate's longest: SIGTERM, then SIGKILL this much later
DRAIN_MARGIN = 10  # s between the drain's end and SIGKILL (closing the server, the log)
HEALTH_PATH = "/health"
# the ECS health check: the same command as the Dockerfile's HEALTHCHECK (a test checks)
HEALTH_COMMAND = ["python", "-c",
                  "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s"
                  + HEALTH_PATH + "' % os.environ.get('DROPON_NODE_PORT', '8100'), timeout=2)"]


def _imported(name: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": "${ControlPlaneStack}-%s" % name}}


PARAMETERS = {
    "ControlPlaneStack": {"Type": "String", "Default": "dropon-rooms",
                          "Description": "The control plane stack whose outputs this imports"},
    "NodeImage": {"Type": "String", "MinLength": 1,
                  "Description": "infra/media-node/Dockerfile's image (ECR URI with tag)"},
    "NodeRepositoryArn": {"Type": "String", "AllowedPattern": "^arn:[a-z-]+:ecr:.+$",
                          "Description": "The ECR repository of NodeImage (pull rights)"},
    "VpcId": {"Type": "AWS::EC2::VPC::Id"},
    "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>",
                  "Description": "Public subnets (a route to an internet gateway)"},
    "ClientCidr": {"Type": "String", "Default": "0.0.0.0/0",
                   "Description": "Who may reach the nodes (browsers: everyone)"},
    "NodeCpu": {"Type": "String", "Default": "2048", "AllowedValues": ["1024", "2048", "4096"],
                "Description": "CPU units per node (1024 = 1 vCPU; docs/scaling.md)"},
    "NodeMemory": {"Type": "String", "Default": "4096",
                   "AllowedValues": ["2048", "4096", "8192", "16384"],
                   "Description": "MiB per node (recordings spool to its disk first)"},
    "NodeMinCount": {"Type": "Number", "Default": 2, "MinValue": 1},
    "NodeMaxCount": {"Type": "Number", "Default": 20, "MinValue": 1},
    "NodeTargetLoad": {"Type": "Number", "Default": 60, "MinValue": 10, "MaxValue": 90,
                       "Description": "Target average NodeLoad (percent) of the fleet"},
    "MaxParticipants": {"Type": "Number", "Default": 64, "MinValue": 1,
                        "Description": "DROPON_MAX_PARTICIPANTS per room"},
    "SignalingPort": {"Type": "Number", "Default": 8443, "MinValue": 1024, "MaxValue": 65535,
                      "Description": "The node's signaling TCP port (DROPON_NODE_PORT)"},
    "IcePortMin": {"Type": "Number", "Default": 20000, "MinValue": 1024, "MaxValue": 65535},
    "IcePortMax": {"Type": "Number", "Default": 20999, "MinValue": 1024, "MaxValue": 65535},
    "StunServer": {"Type": "String", "Default": "stun.l.google.com:19302",
                   "Description": "host:port a node asks for its public address "
                                  "(DROPON_STUN_SERVER); empty: none"},
    "DrainSeconds": {"Type": "Number", "Default": 100, "MinValue": 10,
                     "MaxValue": STOP_TIMEOUT - DRAIN_MARGIN,
                     "Description": "DROPON_DRAIN_SECONDS: a stopping node's time to finish "
                                    "its recordings' uploads (under stopTimeout, 120)"},
    "ProtectionMinutes": {"Type": "Number", "Default": 30, "MinValue": 1, "MaxValue": 2880,
                          "Description": "DROPON_TASK_PROTECTION_MINUTES: each scale-in "
                                         "protection of a node with calls lasts this long, "
                                         "renewed at half while it has calls"},
    "NodePublicUrlTemplate": {"Type": "String", "Default": "http://{public_ip}:{port}",
                              "Description": "DROPON_NODE_PUBLIC_URL_TEMPLATE: where clients "
                                             "reach a node ({public_ip}, {port}, {node_id}, "
                                             "{task_id}); e.g. a TLS front per task"},
    "MetricsTokenInSecret": {"Type": "String", "Default": "false",
                             "AllowedValues": ["true", "false"],
                             "Description": "true: GET /metrics wants the secret's "
                                            "metricsToken (DROPON_METRICS_TOKEN)"},
    "DestinationRoleArns": DESTINATION_ROLES,
    "LogRetentionDays": {"Type": "Number", "Default": 30,
                         "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 180, 365]},
}


CONDITIONS = {"HasMetricsToken": {"Fn::Equals": [{"Ref": "MetricsTokenInSecret"}, "true"]}}


def environment() -> list[dict]:
    """What the stack adds to the image's environment (``DROPON_NODE_SECRET`` is a secret)."""
    env = {
        "DROPON_CONTROL_URL": _imported("ControlUrl"),
        "DROPON_NODE_PORT": {"Ref": "SignalingPort"},
        "DROPON_ICE_PORT_MIN": {"Ref": "IcePortMin"},
        "DROPON_ICE_PORT_MAX": {"Ref": "IcePortMax"},
        "DROPON_MAX_PARTICIPANTS": {"Ref": "MaxParticipants"},
        "DROPON_KMS_KEY_ID": _imported("DestinationSecretsKeyArn"),
        "DROPON_STAGE": _imported("Stage"),  # NodeLoad's Stage dimension
        "DROPON_STUN_SERVER": {"Ref": "StunServer"},
        "DROPON_DRAIN_SECONDS": {"Ref": "DrainSeconds"},
        "DROPON_TASK_PROTECTION_MINUTES": {"Ref": "ProtectionMinutes"},
        "DROPON_NODE_PUBLIC_URL_TEMPLATE": {"Ref": "NodePublicUrlTemplate"},
    }
    return [{"Name": name, "Value": value if isinstance(value, dict) else str(value)}
            for name, value in env.items()]


def secrets() -> list[dict]:
    """Read from the control plane's secret by the execution role at the task's start;
    ``DROPON_METRICS_TOKEN`` only when ``MetricsTokenInSecret`` says the secret has one."""
    def key(name: str, variable: str) -> dict:
        return {"Name": variable, "ValueFrom": {"Fn::Sub": [
            "${Arn}:%s::" % name, {"Arn": _imported("SecretArn")}]}}
    return [key("nodeSecret", "DROPON_NODE_SECRET"),
            {"Fn::If": ["HasMetricsToken", key("metricsToken", "DROPON_METRICS_TOKEN"),
                        {"Ref": "AWS::NoValue"}]}]


def task_role() -> dict:
    """What the node's own code calls in AWS: KMS Decrypt of destinations' secrets,
    customers' recording roles, only with an external id, at start the public IP of its
    own network interface, and its own scale-in protection (the ECS agent's
    ``task-protection/v1/state`` endpoint calls ``UpdateTaskProtection`` with this role's
    credentials; only tasks of the cluster). Buckets are written with the destination's
    credentials or the assumed role's, never the task's."""
    return role("ecs-tasks.amazonaws.com", [
        kms_statement("kms:Decrypt", _imported("DestinationSecretsKeyArn")),
        assume_destination_role_statement(),
        # media_node/ice/public_address.py; a Describe action AWS defines on "*" only
        {"Effect": "Allow", "Action": ["ec2:DescribeNetworkInterfaces"], "Resource": "*"},
        # media_node/ecs/protection.py, through the agent
        {"Effect": "Allow", "Action": ["ecs:UpdateTaskProtection"], "Resource": [{"Fn::Sub":
            "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${NodeCluster}/*"}]},
    ], "MediaNodeTaskPolicy")


def execution_role() -> dict:
    """ECS's own role for the task: pull the image, write its logs, read the node secret."""
    return role("ecs-tasks.amazonaws.com", [
        # GetAuthorizationToken names no resource: AWS defines it on "*" only
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": [{"Ref": "NodeRepositoryArn"}]},
        log_statement(["NodeLogGroup"]),
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": [_imported("SecretArn")]},
    ], "MediaNodeExecutionPolicy")


def task_definition() -> dict:
    container = {
        "Name": CONTAINER, "Image": {"Ref": "NodeImage"}, "Essential": True,
        "PortMappings": [
            {"ContainerPort": {"Ref": "SignalingPort"}, "Protocol": "tcp"},
            {"ContainerPortRange": {"Fn::Sub": "${IcePortMin}-${IcePortMax}"},
             "Protocol": "udp"}],
        "Environment": environment(),
        "Secrets": secrets(),
        "HealthCheck": {"Command": ["CMD", *HEALTH_COMMAND], "Interval": 10, "Timeout": 3,
                        "Retries": 3, "StartPeriod": 15},
        "StopTimeout": STOP_TIMEOUT,
        "Ulimits": [{"Name": "nofile", "SoftLimit": 65536, "HardLimit": 65536}],
        "LogConfiguration": {"LogDriver": "awslogs", "Options": {
            "awslogs-group": {"Ref": "NodeLogGroup"}, "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": "node"}},
    }
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": {"Fn::Sub": "${AWS::StackName}-media-node"},
        "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc",
        "Cpu": {"Ref": "NodeCpu"}, "Memory": {"Ref": "NodeMemory"},
        "RuntimePlatform": {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
        "ExecutionRoleArn": {"Fn::GetAtt": ["NodeExecutionRole", "Arn"]},
        "TaskRoleArn": {"Fn::GetAtt": ["NodeTaskRole", "Arn"]},
        "ContainerDefinitions": [container]}}


def security_group() -> dict:
    ingress = [
        {"IpProtocol": "udp", "FromPort": {"Ref": "IcePortMin"}, "ToPort": {"Ref": "IcePortMax"},
         "CidrIp": {"Ref": "ClientCidr"}, "Description": "ICE: media"},
        {"IpProtocol": "tcp", "FromPort": {"Ref": "SignalingPort"},
         "ToPort": {"Ref": "SignalingPort"}, "CidrIp": {"Ref": "ClientCidr"},
         "Description": "signaling (WHIP-style HTTP)"},
    ]
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "DropOnAir media nodes: ICE UDP range and signaling",
        "VpcId": {"Ref": "VpcId"}, "SecurityGroupIngress": ingress,
        # the control plane, STUN, customers' buckets, KMS, STS: HTTPS and STUN out
        "SecurityGroupEgress": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
             "Description": "HTTPS: control plane, AWS APIs, buckets"},
            {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "CidrIp": "0.0.0.0/0",
             "Description": "media to clients (ICE) and STUN"}]}}


def service() -> dict:
    return {"Type": "AWS::ECS::Service", "DependsOn": ["NodeLogGroup"], "Properties": {
        "Cluster": {"Ref": "NodeCluster"}, "LaunchType": "FARGATE",
        "TaskDefinition": {"Ref": "NodeTaskDefinition"},
        "DesiredCount": {"Ref": "NodeMinCount"},
        # new nodes first, then the old ones drain and stop (docs/deploy.md)
        "DeploymentConfiguration": {
            "MinimumHealthyPercent": 100, "MaximumPercent": 200,
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}},
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "AssignPublicIp": "ENABLED", "Subnets": {"Ref": "SubnetIds"},
            "SecurityGroups": [{"Ref": "NodeSecurityGroup"}]}},
        "PropagateTags": "SERVICE"}}


def autoscaling() -> dict:
    resource_id = {"Fn::Sub": "service/${NodeCluster}/${NodeService.Name}"}
    return {
        "NodeScalableTarget": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                               "Properties": {
                                   "ServiceNamespace": "ecs", "ResourceId": resource_id,
                                   "ScalableDimension": "ecs:service:DesiredCount",
                                   "MinCapacity": {"Ref": "NodeMinCount"},
                                   "MaxCapacity": {"Ref": "NodeMaxCount"}}},
        "NodeScalingPolicy": {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
            "PolicyName": {"Fn::Sub": "${AWS::StackName}-node-load"},
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": "NodeScalableTarget"},
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": {"Ref": "NodeTargetLoad"},
                # scale in slowly: a node with rooms is protected and drains first
                "ScaleInCooldown": 600, "ScaleOutCooldown": 60,
                "CustomizedMetricSpecification": {
                    "Namespace": NAMESPACE, "MetricName": LOAD_METRIC, "Statistic": "Average",
                    "Unit": "Percent",
                    "Dimensions": [{"Name": "Stage", "Value": _imported("Stage")}]}}}},
    }


def media_node_template() -> dict:
    resources = {
        "NodeCluster": {"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}},
        "NodeLogGroup": log_group("/ecs/${AWS::StackName}/media-node"),
        "NodeTaskRole": task_role(),
        "NodeExecutionRole": execution_role(),
        "NodeTaskDefinition": task_definition(),
        "NodeSecurityGroup": security_group(),
        "NodeService": service(),
        **autoscaling(),
    }
    outputs = {"ExportClusterName": {"Value": {"Ref": "NodeCluster"}, "Export": {
                   "Name": {"Fn::Sub": "${AWS::StackName}-ClusterName"}}},
               "ExportServiceName": {"Value": {"Fn::GetAtt": ["NodeService", "Name"]}, "Export": {
                   "Name": {"Fn::Sub": "${AWS::StackName}-ServiceName"}}}}
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": "DropOnAir Rooms: media nodes on ECS Fargate",
            "Parameters": PARAMETERS, "Conditions": CONDITIONS, "Resources": resources,
            "Outputs": outputs}
