"""``make deploy`` and ``make destroy``: the three stacks, in order, with the AWS CLI.

``python -m infra.deploy deploy|destroy [--dry-run]`` reads its settings from the
environment (docs/deploy.md lists them) and runs one ``aws`` command after another,
stopping at the first failure. ``--dry-run`` prints the commands instead; nothing here
has been run against AWS.

Deploy: upload the Lambda zip and deploy the control plane (tables, functions, APIs,
KMS key), then the media nodes (they import the control plane's outputs), then the
dashboard and alarms (they import both). Destroy deletes them in reverse; the tables
and the KMS key are ``Retain``: they stay, with the rooms' histories and the key that
opens destinations' secrets. A new stack cannot create tables of the same names: bring
them back into one with a CloudFormation resource import (docs/deploy.md), or deploy
with another ``TablePrefix``.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .package import BUILD, STACKS

OUT = BUILD / "out"
# the settings: (environment variable, stack parameter, which stack, required)
SETTINGS = (
    ("DROPON_STAGE", "Stage", "", False),
    ("TABLE_PREFIX", "TablePrefix", "", False),
    ("API_KEY_ID", "ApiKeyId", "", True),
    ("SECRET_ARN", "SecretArn", "", True),
    ("DOMAIN_NAME", "DomainName", "", False),
    ("CERTIFICATE_ARN", "CertificateArn", "", False),
    ("NODE_IMAGE", "NodeImage", "-nodes", True),
    ("NODE_REPOSITORY_ARN", "NodeRepositoryArn", "-nodes", True),
    ("VPC_ID", "VpcId", "-nodes", True),
    ("SUBNET_IDS", "SubnetIds", "-nodes", True),
    ("NODE_CPU", "NodeCpu", "-nodes", False),
    ("NODE_MEMORY", "NodeMemory", "-nodes", False),
    ("NODE_MIN", "NodeMinCount", "-nodes", False),
    ("NODE_MAX", "NodeMaxCount", "-nodes", False),
    ("DROPON_DRAIN_SECONDS", "DrainSeconds", "-nodes", False),
    ("DROPON_STUN_SERVER", "StunServer", "-nodes", False),
    ("METRICS_TOKEN_IN_SECRET", "MetricsTokenInSecret", "-nodes", False),
    ("ALARM_EMAIL", "AlarmEmail", "-observability", False),
)


def stack_names(base: str) -> list[tuple[Path, str]]:
    return [(OUT / template, base + suffix) for template, suffix in STACKS]


def parameters(env, suffix: str, base: str) -> list[str]:
    given = [f"{param}={env[var]}" for var, param, stack, _ in SETTINGS
             if stack == suffix and env.get(var)]
    if suffix:  # the later stacks import the control plane's (and the nodes') outputs
        given.append(f"ControlPlaneStack={base}")
    if suffix == "-observability":
        given.append(f"MediaNodeStack={base}-nodes")
    return given


def deploy_commands(env) -> list[list[str]]:
    missing = [var for var, _, _, required in SETTINGS if required and not env.get(var)]
    if missing:
        raise SystemExit(f"set {', '.join(missing)} (docs/deploy.md)")
    base, bucket = env.get("STACK", "dropon-rooms"), env.get("ARTIFACT_BUCKET", "")
    if not bucket:
        raise SystemExit("set ARTIFACT_BUCKET: the S3 bucket the Lambda zip is uploaded to")
    packaged = BUILD / "packaged.yaml"
    commands = [["aws", "cloudformation", "package", "--template-file", str(OUT / "sam.json"),
                 "--s3-bucket", bucket, "--output-template-file", str(packaged)]]
    for template, stack in stack_names(base):
        suffix = stack[len(base):]
        command = ["aws", "cloudformation", "deploy", "--stack-name", stack,
                   "--template-file", str(packaged if not suffix else template),
                   "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
                   "--no-fail-on-empty-changeset"]
        given = parameters(env, suffix, base)
        commands.append(command + (["--parameter-overrides", *given] if given else []))
    return commands


def destroy_commands(env) -> list[list[str]]:
    base = env.get("STACK", "dropon-rooms")
    commands = []
    for _, stack in reversed(stack_names(base)):
        commands.append(["aws", "cloudformation", "delete-stack", "--stack-name", stack])
        commands.append(["aws", "cloudformation", "wait", "stack-delete-complete",
                         "--stack-name", stack])
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deploy or destroy the three stacks")
    parser.add_argument("action", choices=("deploy", "destroy"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    commands = deploy_commands(env) if args.action == "deploy" else destroy_commands(env)
    for command in commands:
        print("+", shlex.join(command), flush=True)
        if not args.dry_run:
            subprocess.run(command, check=True)
    if args.action == "destroy":
        print("kept (DeletionPolicy Retain): the tables <TablePrefix>-* and the destinations' "
              "KMS key; delete them by hand to lose the data (docs/deploy.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
