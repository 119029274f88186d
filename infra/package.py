"""``make package``: the control plane's SAM template and deployment package, offline.

``python -m infra.package [--stage prod] [--out infra/build/out]``

1. Copies ``app.py``, ``chalicelib/`` and ``.chalice/config.json`` into
   ``infra/build/app/`` with ``infra/requirements-lambda.txt`` as its
   ``requirements.txt``: chalice reads the requirements at the project root, and the
   project's own file holds aiortc, av and playwright, which a Lambda cannot carry.
2. Writes the merge template (``infra/template.py``) next to it.
3. Runs ``chalice package --merge-template``, which writes ``sam.json`` and
   ``deployment.zip`` to ``--out``. No AWS call is made; pip fetches the Lambda's
   wheels from the package index on the first run, then chalice reuses its cache in
   ``infra/build/app/.chalice/deployments``.
4. Writes the two plain CloudFormation templates beside it: ``media-node.json`` (the
   media nodes on ECS Fargate, ``infra/media_node.py``) and ``observability.json`` (the
   dashboard and alarms, ``infra/observability.py``). ``STACKS`` lists all three in the
   order ``make deploy`` deploys them.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.process import ROOT

from .media_node import media_node_template
from .observability import observability_template
from .template import merge_template

INFRA = ROOT / "infra"
BUILD = INFRA / "build"
LAMBDA_REQUIREMENTS = INFRA / "requirements-lambda.txt"
APP_FILES = ("app.py", "chalicelib", ".chalice/config.json")
# (template file, stack name suffix), in deploy order; the first is chalice's SAM output
STACKS = (("sam.json", ""), ("media-node.json", "-nodes"), ("observability.json", "-observability"))
PLAIN_TEMPLATES = {"media-node.json": media_node_template,
                   "observability.json": observability_template}


def stage_app(app_dir: Path, requirements: Path = LAMBDA_REQUIREMENTS) -> Path:
    """A copy of the control plane with its Lambda-only requirements; keeps chalice's cache."""
    for name in APP_FILES:
        target = app_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    shutil.copy2(requirements, app_dir / "requirements.txt")
    return app_dir


def package(stage: str = "prod", out: Path = BUILD / "out",
            requirements: Path = LAMBDA_REQUIREMENTS) -> Path:
    """Build the template and the zip; return the path of ``sam.json``."""
    app_dir = stage_app(BUILD / "app", requirements)
    merge = BUILD / "merge-template.json"
    merge.write_text(json.dumps(merge_template(), indent=2))
    if out.exists():
        shutil.rmtree(out)
    chalice = str(Path(sys.executable).with_name("chalice"))
    # chalice wants a region to name ARNs; nothing here talks to AWS
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run([chalice, "package", "--stage", stage, "--merge-template", str(merge),
                    str(out)], cwd=app_dir, env=env, check=True)
    template = out / "sam.json"
    resources = json.loads(template.read_text())["Resources"]
    missing = set(merge_template()["Resources"]) - set(resources)
    if missing:
        raise RuntimeError(f"chalice did not merge {sorted(missing)} into {template}")
    for name, build in PLAIN_TEMPLATES.items():
        (out / name).write_text(json.dumps(build(), indent=2))
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chalice package with the stack's additions")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path, default=BUILD / "out")
    args = parser.parse_args(argv)
    template = package(args.stage, args.out)
    print(f"SAM template: {template}\nDeployment package: {template.with_name('deployment.zip')}")
    for name in PLAIN_TEMPLATES:
        print(f"CloudFormation template: {template.with_name(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
