"""The media node's container, checked without a Docker engine (there is none here).

What is checked: the Dockerfile's base, user, command and healthcheck; that every file
it copies exists and passes its .dockerignore; that its requirements pin the project's
versions and include every dependency; that every third-party module media_node/
imports comes from them; that it runs what ``make run`` runs (the same entry point,
port and variables, but for the few that must differ) and that the ECS task definition
checks health with the same command; and, for real, that its CMD starts a node and its
HEALTHCHECK (``GET /health``) succeeds against it, then fails once it is stopped. Not
checked: that the image builds (pip inside python:3.11-slim) or runs under a container
runtime.
"""
from __future__ import annotations

import ast
import fnmatch
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.process import ROOT, ServerProcess, free_port
from tests.integration.infra_code import task_secrets
from tests.integration.test_infra_requirements import closure, norm, pins

DOCKER = ROOT / "infra" / "media-node"


def instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def exec_form(argument: str) -> list[str]:
    return json.loads(argument)


def image_environment() -> dict[str, str]:
    """The final stage's ``ENV`` (the Dockerfile's ``KEY=value`` form)."""
    steps = instructions()
    last = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return dict(pair.split("=", 1) for op, arg in steps[last:] if op == "ENV"
                for pair in shlex.split(arg))


def test_base_user_and_command():
    steps = instructions()
    # a build stage compiles the C packet loop; the image itself is the last stage
    bases = [arg for op, arg in steps if op == "FROM"]
    assert bases[-1] == "python:3.11-slim" and all(b.startswith("python:3.11-slim") for b in bases)
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert exec_form(dict(steps)["CMD"]) == ["python", "-m", "media_node"]
    # the user is created and is the one the image runs as
    assert any(f"--uid {users[-1]}" in arg for op, arg in steps if op == "RUN")


def test_every_copied_file_exists_and_is_not_ignored():
    ignore = [ln.strip() for ln in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    sources = [shlex.split(arg)[:-1] for op, arg in instructions()
               if op == "COPY" and not arg.startswith("--from=")]  # not from the context
    assert sources
    for group in sources:
        for source in group:
            assert (ROOT / source).exists(), source
            # the last matching pattern decides (Docker's rule); "!" re-includes; a
            # pattern matching a parent folder covers what is inside it
            path = source.rstrip("/")
            covered = [path] + ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
            kept = True
            for pattern in ignore:
                negate = pattern.startswith("!")
                if any(fnmatch.fnmatch(p, pattern.lstrip("!").rstrip("/")) for p in covered):
                    kept = negate
            assert kept, f"{source} is excluded by Dockerfile.dockerignore"


def test_the_image_carries_the_node_and_no_development_tool():
    sources = {source for op, arg in instructions() if op == "COPY" and not arg.startswith("--from=")
               for source in shlex.split(arg)[:-1]}
    assert "media_node/" in sources  # media_node_dev/, tests/ and bench/ stay out
    assert all(s == "infra/media-node/requirements.txt" or s.startswith("media_node/")
               for s in sources), sources


def test_requirements_pin_the_projects_versions_and_are_complete():
    image, project = pins(DOCKER / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert image and {n: v for n, v in image.items() if project.get(n) != v} == {}
    assert closure(image) <= set(image), closure(image) - set(image)
    assert not set(image) & {"playwright", "moto", "chalice", "pytest", "pynamodb"}


def third_party_imports() -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    names = set()
    for path in (ROOT / "media_node").rglob("*.py"):  # the tools are in media_node_dev/
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in stdlib and n not in ("media_node", "__future__")}


def test_the_node_imports_only_what_the_image_installs():
    from importlib.metadata import packages_distributions
    dists = packages_distributions()
    image = set(pins(DOCKER / "requirements.txt"))
    for module in third_party_imports():
        assert {norm(d) for d in dists.get(module, [])} & image, module


@pytest.fixture
def node(tmp_path):
    port = free_port()
    env = {**os.environ, "DROPON_NODE_SECRET": "s" * 32, "DROPON_CONTROL_URL": "",
           "DROPON_NODE_PORT": str(port),
           # here the node must stay on loopback; the image sets 0.0.0.0 and real ICE
           "DROPON_NODE_HOST": "127.0.0.1", "DROPON_ICE_LOOPBACK_ONLY": "1"}
    cmd = exec_form(dict(instructions())["CMD"])
    process = ServerProcess([sys.executable if cmd[0] == "python" else cmd[0], *cmd[1:]], port,
                            cwd=ROOT, env=env, log_path=tmp_path / "node.log").start()
    try:
        yield process, env
    finally:
        process.stop()


def test_the_build_stage_compiles_the_c_modules_the_image_copies(tmp_path):
    """The native stage's RUN builds the node's C modules next to their sources, from
    what its COPYs bring, as here; the image copies the stage's tree over the node's."""
    steps = instructions()
    build = [arg for op, arg in steps if op == "RUN" and "build_native.py" in arg]
    assert build == ["python /src/media_node/build_native.py"]
    copies = [arg.split() for op, arg in steps if op == "COPY" and arg.split()[-1].startswith("/src/")]
    for *sources, dest in copies:  # the stage's COPYs, into a tree of our own
        for source in sources:
            target = tmp_path / dest.removeprefix("/") / Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((ROOT / source).read_bytes())
    stage = tmp_path / "src" / "media_node"
    subprocess.run([sys.executable, str(stage / "build_native.py")], check=True, timeout=120)
    assert list((stage / "sfu").glob("_fanout*.so"))
    assert list((stage / "recording").glob("_depay*.so"))
    assert ("COPY", "--from=native /src/media_node/ /app/media_node/") in steps
    assert any("DROPON_FANOUT=c" in arg for op, arg in steps if op == "ENV")


def healthcheck() -> list[str]:
    health = instructions()[[op for op, _ in instructions()].index("HEALTHCHECK")][1]
    return exec_form(health.split(" CMD ", 1)[1])


def test_the_task_definition_checks_health_as_the_image_does():
    from infra.media_node import HEALTH_COMMAND, STOP_TIMEOUT, media_node_template
    task = media_node_template()["Resources"]["NodeTaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    assert healthcheck() == HEALTH_COMMAND and container["HealthCheck"]["Command"] == [
        "CMD", *HEALTH_COMMAND]
    assert "/health" in HEALTH_COMMAND[-1]
    assert container["StopTimeout"] == STOP_TIMEOUT == 120  # Fargate's longest drain


def test_the_node_drains_before_the_task_is_killed():
    """SIGKILL comes ``stopTimeout`` s after SIGTERM: every drain the stack allows, and
    the node's own default, ends before it."""
    from infra.media_node import PARAMETERS, media_node_template
    from media_node.config import NodeConfig
    (container,) = media_node_template()["Resources"]["NodeTaskDefinition"]["Properties"][
        "ContainerDefinitions"]
    given = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert given["DROPON_DRAIN_SECONDS"] == {"Ref": "DrainSeconds"}
    drain = PARAMETERS["DrainSeconds"]
    assert drain["Default"] <= drain["MaxValue"] < container["StopTimeout"]
    assert NodeConfig.from_env({"DROPON_NODE_SECRET": "s"}).drain_seconds < container[
        "StopTimeout"]
    assert NodeConfig.from_env({"DROPON_NODE_SECRET": "s", "DROPON_DRAIN_SECONDS": str(
        drain["MaxValue"])}).drain_seconds == drain["MaxValue"]


class Recorded:
    """Stands for a started process: what ``make run`` would have run, and with what."""

    def __init__(self, argv, port, env):
        self.argv, self.port, self.env = argv, port, dict(env)

    def start(self):
        return self


def make_run_node(monkeypatch) -> Recorded:
    """The node ``make run`` starts (devstack.run's own functions, nothing started)."""
    from devstack import run
    monkeypatch.setattr(run, "load_or_create", lambda: {
        "key": "k", "secret": "s", "nodeSecret": "n", "secretsKey": "f", "webhookKey": "w"})
    stack = run.Stack(env=run.base_env())
    monkeypatch.setattr(run.Stack, "process",
                        lambda self, argv, port, log: Recorded(argv, port, self.env))
    run.control_plane(stack)  # sets the node's DROPON_CONTROL_URL
    return run.media_node(stack)


# what make run gives its node that the image and the task do not, and why
LOCAL_ONLY = {
    "DROPON_SECRETS_KEY": "locally a Fernet key opens destinations' secrets; deployed, KMS",
    "DROPON_NODE_ID": "per task: make run's node-1 (deployed: task-<task id>, from the "
                      "task's metadata, media_node/ecs/identity.py)",
    "DROPON_NODE_PUBLIC_URL": "per task: make run's 127.0.0.1 (deployed: "
                              "DROPON_NODE_PUBLIC_URL_TEMPLATE with the discovered public "
                              "address and the signaling port)",
}


def test_the_image_runs_what_make_run_runs_on_the_same_ports(monkeypatch):
    from infra.media_node import media_node_template
    local = make_run_node(monkeypatch)
    steps, image = instructions(), image_environment()
    # the same entry point: `python -m media_node`
    assert [Path(local.argv[0]).name.startswith("python"), *local.argv[1:]] == [
        True, *exec_form(dict(steps)["CMD"])[1:]]
    # the same signaling port by default, and the image exposes it and its ICE range
    assert image["DROPON_NODE_PORT"] == local.env["DROPON_NODE_PORT"] == str(local.port)
    exposed = {arg for op, arg in steps if op == "EXPOSE"}
    ice = f"{image['DROPON_ICE_PORT_MIN']}-{image['DROPON_ICE_PORT_MAX']}"
    assert exposed == {f"{image['DROPON_NODE_PORT']}/tcp", f"{ice}/udp"}
    # every variable make run gives the node, the image or the task gives it too
    container = media_node_template()["Resources"]["NodeTaskDefinition"]["Properties"][
        "ContainerDefinitions"][0]
    deployed = set(image) | {e["Name"] for e in container["Environment"]} | {
        s["Name"] for s in task_secrets(container)}
    given = {k for k in local.env if k.startswith("DROPON_") and
             k in _node_reads()}
    assert given - deployed == set(LOCAL_ONLY), given - deployed
    # only where the two must differ: loopback here, real addresses in the image
    assert local.env["DROPON_ICE_LOOPBACK_ONLY"] == "1" and image["DROPON_ICE_LOOPBACK_ONLY"] == "0"


def _node_reads() -> set[str]:
    from tests.integration.infra_code import MEDIA_NODE, env_reads
    return env_reads(MEDIA_NODE)


def test_cmd_starts_a_node_and_the_healthcheck_sees_it(node):
    process, env = node
    command = healthcheck()
    assert command[0] == "python"
    check = [sys.executable, *command[1:]]
    assert subprocess.run(check, env=env, timeout=10).returncode == 0
    process.stop()
    assert subprocess.run(check, env=env, timeout=10, capture_output=True).returncode != 0
