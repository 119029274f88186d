"""Deployment requirement files pin exactly the project's versions, and nothing is missing.

``infra/requirements-lambda.txt`` is the control plane's Lambda (chalice packages it);
``infra/media-node/requirements.txt`` is the media node's image. Each must use the
version ``requirements.txt`` pins (what the tests ran against) and list every
dependency of what it lists, so that pip in the build resolves nothing on its own.
"""
from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

from devstack.process import ROOT

LAMBDA = ROOT / "infra" / "requirements-lambda.txt"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """Normalised name -> version of every ``name==version`` line."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: {line!r} is not pinned"
            out[norm(name)] = version.strip()
    return out


def closure(names) -> set[str]:
    """Every distribution ``names`` need (installed metadata, no extras, this platform)."""
    seen, stack = set(), list(names)
    while stack:
        name = norm(stack.pop())
        if name in seen:
            continue
        seen.add(name)
        for spec in requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return seen


def test_lambda_pins_equal_the_projects():
    lam, project = pins(LAMBDA), pins(ROOT / "requirements.txt")
    assert lam, "no pins"
    assert {n: v for n, v in lam.items() if project.get(n) != v} == {}


def test_lambda_requirements_are_complete_and_lean():
    lam = pins(LAMBDA)
    assert closure(lam) <= set(lam), closure(lam) - set(lam)
    # what chalicelib imports (cryptography, urllib3 and certifi for webhooks; structlog
    # and Powertools for logs and metrics)
    assert closure(["eventsourcing", "pynamodb", "pyjwt", "cryptography", "urllib3",
                    "certifi", "structlog", "aws-lambda-powertools"]) == set(lam)
    assert not set(lam) & {"aiortc", "av", "playwright", "moto", "pytest", "chalice"}
