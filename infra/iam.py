"""IAM building blocks shared by the stacks: roles, log and KMS statements.

Every statement names its resources: no ``*`` action anywhere, and no ``*`` resource
except for the few actions AWS defines on no resource (none is used by a function
today). The encryption context of destinations' secrets is the code's own
(``chalicelib/adapters/sealers.py``), so a grant and a seal cannot disagree.
"""
from __future__ import annotations

from chalicelib.adapters.sealers import KMS_CONTEXT

KMS_KEY = "DestinationSecretsKey"  # the control plane stack's key for destinations' secrets
LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]


def role(service: str, statements: list[dict], name: str = "DefaultRolePolicy") -> dict:
    """An ``AWS::IAM::Role`` that ``service`` (``lambda.amazonaws.com``, ...) assumes."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": service},
                "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": name,
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }


def log_group(name_sub: str, retention_parameter: str = "LogRetentionDays") -> dict:
    """A log group the stack owns, so that it has a retention and goes with the stack."""
    return {"Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": {"Fn::Sub": name_sub},
                           "RetentionInDays": {"Ref": retention_parameter}}}


def log_statement(log_groups: list[str]) -> dict:
    """Write to these log groups (logical ids) only; the stack creates them."""
    return {"Effect": "Allow", "Action": LOG_WRITE,
            "Resource": [{"Fn::GetAtt": [g, "Arn"]} for g in log_groups]}


def kms_statement(action: str, key_arn) -> dict:
    """``kms:Encrypt`` or ``kms:Decrypt`` on the destinations' key, with their context only."""
    return {"Effect": "Allow", "Action": [action], "Resource": [key_arn],
            "Condition": {"StringEquals": {f"kms:EncryptionContext:{k}": v
                                           for k, v in KMS_CONTEXT.items()}}}


DESTINATION_ROLES = {
    "Type": "CommaDelimitedList", "Default": "arn:aws:iam::*:role/dropon-recording-*",
    "Description": "Customers' roles for recordings (roleArn of a destination), which the "
                   "control plane (verify) and the nodes (upload) may assume, with an "
                   "external id only"}


def assume_destination_role_statement() -> dict:
    """``sts:AssumeRole`` of customers' recording roles, only with an external id (the
    confused-deputy guard the customer's trust policy checks)."""
    return {"Effect": "Allow", "Action": ["sts:AssumeRole"],
            "Resource": {"Ref": "DestinationRoleArns"},
            "Condition": {"Null": {"sts:ExternalId": "false"}}}


# the key's administrators: the account's root (so IAM policies can be granted use), with
# the administrative actions of AWS's default key policy; no one gets kms:* on *
KEY_ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
                     "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*",
                     "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
                     "kms:CancelKeyDeletion"]


def destination_key() -> dict:
    """The KMS key sealing destinations' secrets; kept when the stack goes (it opens them)."""
    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    return {
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": {"Fn::Sub": "${AWS::StackName}: recording destinations' secrets"},
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Administer", "Effect": "Allow", "Principal": root,
                 "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
                # use is granted by IAM policies (the API's Encrypt, the node's Decrypt)
                {"Sid": "DelegateUseToIAM", "Effect": "Allow", "Principal": root,
                 "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
            ]},
        },
    }


def statements_of(resource: dict) -> list[dict]:
    """Every statement of a role's inline policies or of a key's policy."""
    props = resource.get("Properties", {})
    if "KeyPolicy" in props:
        return props["KeyPolicy"]["Statement"]
    return [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]
