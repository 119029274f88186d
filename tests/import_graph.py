"""Reading a package's imports with ``ast`` (no import runs), for the layout tests of the
control plane (``tests/unit/test_layers.py``) and of the media node
(``tests/unit/test_media_node_layout.py``): module names, relative imports resolved,
one cycle of a graph, and a graph collapsed to its packages."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """``chalicelib/api/errors.py`` -> ``chalicelib.api.errors`` (a package's ``__init__``
    is the package)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_targets(path: Path, tree: ast.Module, module: str,
                   skip_type_checking: bool = False) -> Iterator[tuple[str, set[str]]]:
    """For each import of ``module`` (at ``path``), anywhere in it: ``(name, set())`` for
    ``import name``, and ``(base, {base.name, ...})`` for ``from base import name, ...``
    with a relative ``base`` resolved. ``skip_type_checking`` leaves out the imports
    under ``if TYPE_CHECKING:``, which run only under a type checker."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skipped = {id(n) for block in ast.walk(tree) if skip_type_checking and _is_type_checking(block)
               for statement in block.body for n in ast.walk(statement)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, set()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, {f"{base}.{alias.name}" for alias in node.names}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or ``None`` (depth-first, in sorted order)."""
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


def top_two(module: str) -> str:
    """A subpackage (``chalicelib.api``, ``media_node.sfu``), or a top-level module as is."""
    return ".".join(module.split(".")[:2])


def package_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """``edges`` between modules, collapsed to edges between their ``top_two`` units."""
    packages: dict[str, set[str]] = {}
    for module, targets in edges.items():
        packages.setdefault(top_two(module), set()).update(
            top_two(t) for t in targets if top_two(t) != top_two(module))
    return packages
