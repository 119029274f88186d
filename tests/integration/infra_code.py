"""What the code reads, found in the code itself, for the templates' wiring tests.

- ``env_reads(root)``: every environment variable name a package reads: a string
  constant with an underscore, in capitals, passed to a call (``environ.get("X")``,
  ``_int(env, "X", ...)``), used as a subscript (``os.environ["X"]``), or assigned to a
  capitalised name (``TABLE_PREFIX = "DYNAMODB_TABLE_PREFIX"``, ``STORE_VARIABLES``).
  Over-inclusive by design (a capitalised constant that is not a variable counts too):
  what it is for is finding a variable the templates set that nothing reads.
- ``boto_clients(root)``: the AWS services the package builds boto3 clients of.
- ``agent_calls(root)``: the ECS actions the package has the ECS agent call for it.
- ``task_secrets(container)``: a task's secrets, both sides of a conditional one.
- ``resolve(value, refs)``: a CloudFormation value with its ``Ref``/``Fn::Sub``/imports
  replaced by sample values, to run the code's settings on a template's environment.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from devstack.process import ROOT

NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
CONTROL_PLANE = (ROOT / "app.py", ROOT / "chalicelib")
MEDIA_NODE = (ROOT / "media_node",)


def _files(roots) -> list[Path]:
    out = []
    for root in roots:
        out += [root] if root.is_file() else sorted(root.rglob("*.py"))
    return out


def _strings(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def env_reads(roots) -> set[str]:
    found: set[str] = set()
    for path in _files(roots):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for arg in node.args:
                    found.update(_strings(arg))
            elif isinstance(node, ast.Subscript):
                found.update(_strings(node.slice))
            elif isinstance(node, ast.Assign) and all(
                    isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
                found.update(_strings(node.value))
    return {s for s in found if NAME.match(s)}


def boto_clients(roots) -> set[str]:
    """``boto3.client("kms")`` and friends: the services a package calls."""
    found = set()
    for path in _files(roots):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "client" and node.args):
                found.update(_strings(node.args[0]))
    return found


# the ECS agent's endpoints a task calls, and the ECS action each calls with the task
# role's credentials (docs: "Amazon ECS task scale-in protection endpoint")
AGENT_ACTIONS = {("/task-protection/v1/state", "put"): "ecs:UpdateTaskProtection",
                 ("/task-protection/v1/state", "get"): "ecs:GetTaskProtection"}


def agent_calls(roots) -> set[str]:
    """The ECS actions a package has the ECS agent call for it: in a module that names an
    agent endpoint, each HTTP method called on a client (``http.put(...)``)."""
    found = set()
    for path in _files(roots):
        tree = ast.parse(path.read_text())
        names = {s for node in ast.walk(tree) for s in _strings(node)}
        methods = {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
                   and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "put")
                   and node.args}
        found |= {action for (endpoint, method), action in AGENT_ACTIONS.items()
                  if endpoint in names and method in methods}
    return found


def resolve(value, refs: dict):
    """A template value as a string: ``Ref``s and imports from ``refs`` (name -> value)."""
    if isinstance(value, (str, int, float)):
        return str(value)
    (fn, arg), = value.items()
    if fn == "Ref":
        return refs[arg]
    if fn == "Fn::GetAtt":
        return refs[".".join(arg)]
    if fn == "Fn::ImportValue":
        return refs["import:" + resolve(arg, {**refs, "ControlPlaneStack": "cp"}).split("-", 1)[1]]
    if fn == "Fn::Sub":
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {**refs, **{k: resolve(v, refs) for k, v in local.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)
    raise ValueError(f"cannot resolve {fn}")


def task_secrets(task) -> list[dict]:
    """The container's secrets, both sides of a conditional one (``Fn::If``)."""
    out = []
    for item in task["Secrets"]:
        branches = item["Fn::If"][1:] if "Fn::If" in item else [item]
        out += [b for b in branches if "Name" in b]
    return out
