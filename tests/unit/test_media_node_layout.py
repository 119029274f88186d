"""The media node's layout: no import cycle between its modules or its subpackages, and
no runtime module importing a development tool (docs/architecture.md, "media_node layout").

Every import counts, ``if TYPE_CHECKING:`` and function-level ones included: a cycle
hidden from the interpreter is still two modules that cannot be read apart.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.import_graph import find_cycle, import_targets, module_name, package_graph

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "media_node"
DEV_PACKAGES = ("media_node_dev", "tests", "bench", "devstack")


def imported(path: Path) -> set[str]:
    """Every module name ``path`` imports; ``from pkg import mod`` imports ``pkg`` and,
    when there is one, the module ``pkg.mod``."""
    names = set()
    for base, named in import_targets(path, ast.parse(path.read_text()), module_name(path, ROOT)):
        names |= {base} | named
    return names


def graph() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (packages' ``__init__`` included)."""
    paths = {module_name(p, ROOT): p for p in (ROOT / PACKAGE).rglob("*.py")}
    return {name: {m for m in imported(path) if m in paths and m != name}
            for name, path in paths.items()}


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_between_subpackages():
    packages = package_graph(graph())
    packages.pop(PACKAGE, None)  # media_node/__init__.py imports nothing
    cycle = find_cycle(packages)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


def test_the_runtime_imports_no_development_tool():
    offending = {
        module_name(path, ROOT): sorted(m for m in imported(path) if m.split(".")[0] in DEV_PACKAGES)
        for path in (ROOT / PACKAGE).rglob("*.py")
    }
    assert {m: names for m, names in offending.items() if names} == {}
