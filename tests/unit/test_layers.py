"""The control plane's layers, read from its source with ``ast`` (no import runs).

- only the HTTP edge (``chalicelib/api/``, ``app.py``) imports ``chalicelib.api``;
- only ``chalicelib/persistence/`` imports pynamodb; it and ``chalicelib/adapters/``
  (the customers' buckets, KMS) import botocore; the edge's error mapping may read
  botocore's error classes;
- one bootstrap module builds the application and its adapters;
- no import cycle between chalicelib's packages, nor between its modules.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ERROR_MAPPING = "chalicelib.api.errors"
BUILT_ONLY_BY_BOOTSTRAP = {"RoomsApplication", "NodeService", "DynamoDBNodeRegistry",
                           "InMemoryNodeRegistry", "DestinationService", "RecordingService",
                           "DynamoDBDestinationStore", "InMemoryDestinationStore",
                           "FernetSealer", "KMSSealer", "NoSealer", "S3Probe", "GCSProbe",
                           "AzureBlobProbe"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, tuple[Path, ast.Module]]:
    paths = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    return {module_name(p): (p, ast.parse(p.read_text(), str(p))) for p in paths}


SOURCES = sources()


def imports(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in it (lazy imports too), by full name."""
    path, tree = SOURCES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block)
                   for statement in block.body for n in ast.walk(statement)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from package import module`` names the module; any other name, the package
            named = {f"{base}.{a.name}" for a in node.names}
            found |= named & set(SOURCES)
            if named - set(SOURCES):
                found.add(base)
    return found


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` imports run only under a type checker."""
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_only_the_http_edge_imports_the_api_package():
    wrong = {(m, i) for m in SOURCES for i in imports(m)
             if inside(i, "chalicelib.api") and not (m == "app" or inside(m, "chalicelib.api"))}
    assert wrong == set()


def test_only_persistence_imports_pynamodb_or_botocore():
    wrong = {(m, i) for m in SOURCES for i in imports(m)
             if (inside(i, "pynamodb") or inside(i, "botocore"))
             and not inside(m, "chalicelib.persistence")
             and not (inside(m, "chalicelib.adapters") and inside(i, "botocore"))
             and not (m == ERROR_MAPPING and inside(i, "botocore.exceptions"))}
    assert wrong == set()


def test_only_bootstrap_imports_the_adapters():
    wrong = {(m, i) for m in SOURCES for i in imports(m)
             if inside(i, "chalicelib.adapters") and not inside(m, "chalicelib.adapters")
             and m != "chalicelib.bootstrap"}
    assert wrong == set()


def test_one_bootstrap_module_builds_the_application_and_its_adapters():
    wiring = [m for m in SOURCES if m.rpartition(".")[2] in ("bootstrap", "wiring", "container")]
    assert wiring == ["chalicelib.bootstrap"]
    built = {(m, node.func.id) for m, (_, tree) in SOURCES.items() for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id in BUILT_ONLY_BY_BOOTSTRAP}
    assert {m for m, _ in built} == {"chalicelib.bootstrap"}, built


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, if it has any (depth-first search)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        path.pop()
        return None

    return next(filter(None, (visit(n) for n in sorted(graph) if n not in state)), None)


def package_of(module: str) -> str:
    """``chalicelib.<package>`` for modules of a package; a top-level module is its own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycle_between_modules_or_packages():
    ours = {m: {i for i in imports(m) if i in SOURCES and i != m} for m in SOURCES}
    assert cycle(ours) is None
    packages: dict[str, set[str]] = {}
    for module, targets in ours.items():
        packages.setdefault(package_of(module), set()).update(
            package_of(t) for t in targets if package_of(t) != package_of(module))
    assert cycle(packages) is None


def test_the_cycle_finder_finds_cycles():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None
