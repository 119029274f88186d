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

from tests.import_graph import find_cycle, import_targets, module_name, package_graph

ROOT = Path(__file__).resolve().parents[2]
ERROR_MAPPING = "chalicelib.api.errors"
BUILT_ONLY_BY_BOOTSTRAP = {"RoomsApplication", "NodeService", "DynamoDBNodeRegistry",
                           "InMemoryNodeRegistry", "DestinationService", "RecordingService",
                           "DynamoDBDestinationStore", "InMemoryDestinationStore",
                           "FernetSealer", "KMSSealer", "NoSealer", "S3Probe", "GCSProbe",
                           "AzureBlobProbe"}


def sources() -> dict[str, tuple[Path, ast.Module]]:
    paths = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    return {module_name(p, ROOT): (p, ast.parse(p.read_text(), str(p))) for p in paths}


SOURCES = sources()


def imports(module: str) -> set[str]:
    """Every module ``module`` imports, anywhere in it (lazy imports too), by full name;
    not those under ``if TYPE_CHECKING:``."""
    path, tree = SOURCES[module]
    found = set()
    for base, named in import_targets(path, tree, module, skip_type_checking=True):
        if not named:
            found.add(base)
            continue
        # ``from package import module`` names the module; any other name, the package
        found |= named & set(SOURCES)
        if named - set(SOURCES):
            found.add(base)
    return found


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


def test_no_import_cycle_between_modules_or_packages():
    ours = {m: {i for i in imports(m) if i in SOURCES and i != m} for m in SOURCES}
    assert find_cycle(ours) is None
    assert find_cycle(package_graph(ours)) is None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None
