"""The media node's layout: no import cycle between its modules or its subpackages, and
no runtime module importing a development tool (docs/architecture.md, "media_node layout").

Every import counts, ``if TYPE_CHECKING:`` and function-level ones included: a cycle
hidden from the interpreter is still two modules that cannot be read apart.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "media_node"
DEV_PACKAGES = ("media_node_dev", "tests", "bench", "devstack")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module name ``path`` imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod when there is one
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def graph() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (packages' ``__init__`` included)."""
    paths = {module_name(p): p for p in (ROOT / PACKAGE).rglob("*.py")}
    return {name: {m for m in imported(path) if m in paths and m != name}
            for name, path in paths.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def unit(module: str) -> str:
    """A subpackage (``media_node.sfu``) or a top-level module (``media_node.config``)."""
    return ".".join(module.split(".")[:2])


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_between_subpackages():
    packages: dict[str, set[str]] = {}
    for module, targets in graph().items():
        packages.setdefault(unit(module), set()).update(
            unit(t) for t in targets if unit(t) != unit(module))
    packages.pop(PACKAGE, None)  # media_node/__init__.py imports nothing
    cycle = find_cycle(packages)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


def test_the_runtime_imports_no_development_tool():
    offending = {
        module_name(path): sorted(m for m in imported(path) if m.split(".")[0] in DEV_PACKAGES)
        for path in (ROOT / PACKAGE).rglob("*.py")
    }
    assert {m: names for m, names in offending.items() if names} == {}
