"""The package's layout holds: import arrows run one way, every exception lives in errors.py,
the manual's import paths keep working, and the shared pieces behave as the formats they replace."""

import ast
import importlib
import inspect
import io
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

import anonlinkclient
from anonlinkclient import errors
from tests.helpers import ROOT

PACKAGE = ROOT / "anonlinkclient"

#: How high each part of the package stands; a module may import only from parts below it (or its own part).
LAYERS = {
    "errors": 0,
    "io": 1,
    "encoding": 2,
    "blocking": 2,
    "linkage": 2,
    "service": 2,
    "report": 2,
    "synthetic": 2,
    # The audit hashes (encoding) and draws (report); its attacks import neither (test_audit_isolation).
    "audit": 3,
    "cli": 4,
    # The public faces: the package itself and the manual's import paths re-export the parts.
    "__init__": 5,
    "__main__": 5,
    "utils": 5,
    "rest_client": 5,
    "spark": 5,
}


def part_of(module: str) -> str:
    """``anonlinkclient.io.files`` -> ``io``; ``anonlinkclient`` -> ``__init__``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def internal_imports(path: Path, module: str) -> List[str]:
    """Every ``anonlinkclient...`` module that ``path`` imports, at any depth (function-level imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("anonlinkclient"):
            found.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
            found.append(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("anonlinkclient")]
    return found


def package_modules() -> List[Tuple[str, Path]]:
    """``(module name, file)`` of every module of the package."""
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append((".".join(parts), path))
    return modules


def test_import_arrows_run_one_way() -> None:
    """cli -> service/linkage/blocking/encoding/report -> io -> errors, never back."""
    wrong: Dict[str, List[str]] = {}
    for module, path in package_modules():
        here = part_of(module)
        assert here in LAYERS, f"{module}: a new part of the package needs a place in LAYERS"
        for imported in internal_imports(path, module):
            there = part_of(imported)
            if imported == "anonlinkclient" or there == here:
                continue  # __version__, or within one part
            if LAYERS[there] >= LAYERS[here]:
                wrong.setdefault(module, []).append(imported)
    assert wrong == {}


def imported_modules(path: Path, module: str, modules: Set[str]) -> Set[str]:
    """The package's modules that ``path`` imports, at any depth (function-level imports too);
    ``from a.b import c`` counts as importing the module ``a.b.c`` if there is one, else ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = imported_package_module(node, path, module)
            if base is None:
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
    return found & modules


def imported_package_module(node: ast.ImportFrom, path: Path, module: str) -> Optional[str]:
    """The ``anonlinkclient`` module a ``from ... import`` names (absolute or relative), if it is one."""
    if node.level:
        names = module.split(".")
        base = names[: len(names) - node.level + (path.name == "__init__.py")]
        return ".".join(base + ([node.module] if node.module else []))
    return node.module if node.module and node.module.split(".")[0] == "anonlinkclient" else None


def import_circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    circles: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(circles)


def test_no_import_circle_between_modules_even_through_function_level_imports() -> None:
    """A module that needs another only inside a function still depends on it: no circles, at any depth."""
    modules = dict(package_modules())
    names = set(modules)
    graph = {module: imported_modules(path, module, names) - {module} for module, path in modules.items()}
    circles = import_circles(graph)
    described = [[f"{member} -> {sorted(graph[member] & set(circle))}" for member in circle] for circle in circles]
    assert described == []


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert import_circles({"x": {"y"}, "y": {"x"}, "z": {"y"}}) == [["x", "y"]]


#: Folders of tests/ that are no part of the package, and why.
TEST_FOLDERS_OF_NO_PART = {
    "entity_service": "the test Entity Service the service tests run against (no tests of its own)",
    "project": "checks of the whole project: layout, docs, packaging, frozen executable, tutorials",
    "data": "input files the tests read",
}
#: The files tests/ itself may hold: the shared helpers and the plugins every test runs under
#: (secrets_guard.py checks every run's output; postgres.py starts the session's PostgreSQL server).
TEST_ROOT_FILES = {"__init__.py", "conftest.py", "helpers.py", "secrets_guard.py", "postgres.py"}


def test_the_tests_mirror_the_package() -> None:
    """Every test module sits in the folder of the part of the package it tests (tests/io/ for io/ ...)."""
    parts = {part_of(module) for module, _path in package_modules()} - {"__init__", "__main__"}
    folders = {path.parent.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("__init__.py")}
    tests = ROOT / "tests"
    misplaced = []
    for path in sorted(tests.rglob("test_*.py")):
        folder = path.parent.relative_to(tests).as_posix()
        top = folder.split("/")[0]
        if top in TEST_FOLDERS_OF_NO_PART and top != "data":
            continue
        if folder == "." or top not in parts or ("/" in folder and folder not in folders):
            misplaced.append(path.relative_to(ROOT).as_posix())
    assert misplaced == [], "test modules outside the package's layout"
    stray = sorted(path.name for path in tests.iterdir() if path.is_file() and path.suffix == ".py")
    assert set(stray) <= TEST_ROOT_FILES, "modules at the top of tests/: put them beside the tests that use them"
    for folder in (path for path in tests.iterdir() if path.is_dir() and not path.name.startswith((".", "__"))):
        assert folder.name in parts or folder.name in TEST_FOLDERS_OF_NO_PART, f"tests/{folder.name}: no such part"


def test_every_exception_class_lives_in_errors_py_and_in_its_drawn_tree() -> None:
    for info in pkgutil.walk_packages(anonlinkclient.__path__, "anonlinkclient."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                assert info.name == "anonlinkclient.errors", f"{info.name}.{name} is an exception outside errors.py"
    defined = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == "anonlinkclient.errors"
    ]
    assert len(defined) >= 17
    for name in defined:
        assert f" {name} " in errors.__doc__ or f"── {name}" in errors.__doc__, f"{name} is missing from the tree"


def test_errors_0_1_5_code_catches_are_still_value_errors() -> None:
    for kind in (errors.UsageError, errors.InputFileError, errors.OutputFileError, errors.SchemaFileError):
        assert issubclass(kind, ValueError)
        assert issubclass(kind, errors.AnonlinkClientError)


def test_the_manuals_import_paths_keep_working() -> None:
    from anonlinkclient import rest_client, utils
    from anonlinkclient.service import rest_client as service_rest_client

    for name in rest_client.__all__:
        assert getattr(rest_client, name) is getattr(service_rest_client, name)
    for name in ("RestClient", "ClientWaitingConfiguration", "ServiceError", "format_run_status", "DEFAULT_SERVER"):
        assert hasattr(rest_client, name)
    for name in utils.__all__:
        assert getattr(utils, name) is getattr(anonlinkclient, name)
    entry = importlib.import_module("anonlinkclient.cli")
    assert callable(entry.main)


def test_the_package_exports_its_public_api_lazily() -> None:
    code = (
        "import sys, anonlinkclient\n"
        "heavy = [m for m in ('clkhash', 'blocklib', 'anonlink', 'numpy', 'requests', 'minio') if m in sys.modules]\n"
        "assert heavy == [], heavy\n"
        "assert anonlinkclient.ServiceSettings().server == 'https://anonlink.easd.data61.xyz'\n"
        "assert callable(anonlinkclient.generate_clk_from_csv)\n"
        "print(sorted(anonlinkclient.__all__)[:3])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['AnonlinkClientError', 'ClientWaitingConfiguration', 'RestClient']\n"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        anonlinkclient.nope  # noqa: B018


def test_the_one_json_writer_writes_what_json_dump_writes() -> None:
    from anonlinkclient.io.block_file import write_block_file
    from anonlinkclient.io.json_array import encode, write_list_document

    groups = [[[0, 1], [1, 5]], [[0, 2], [1, 3], [2, 9]]]
    out = io.StringIO()
    assert write_list_document(out, "groups", (encode(g) for g in groups)) == 2
    assert out.getvalue() == json.dumps({"groups": groups})
    empty = io.StringIO()
    assert write_list_document(empty, "clks", iter(())) == 0
    assert empty.getvalue() == json.dumps({"clks": []})
    blocks = {"0": ["a", 1], "3": ["b"]}
    meta = {"source": {"clk_count": [4]}}
    out = io.StringIO()
    assert write_block_file(out, blocks.items(), meta) == 2
    assert out.getvalue() == json.dumps({"blocks": blocks, "meta": meta})


def test_service_settings_hold_the_defaults_the_cli_shows() -> None:
    from click.testing import CliRunner

    from anonlinkclient.cli import cli
    from anonlinkclient.service import settings

    shown = CliRunner().invoke(cli, ["status", "--help"], terminal_width=200).output
    for default in (
        settings.DEFAULT_SERVER,
        settings.DEFAULT_RETRY_MULTIPLIER_MS,
        settings.DEFAULT_RETRY_EXPONENTIAL_MAX_MS,
        settings.DEFAULT_RETRY_MAX_TIME_MS,
    ):
        assert f"default: {default}" in shown
    from anonlinkclient.service.rest_client import RestClient

    client = RestClient.from_settings(
        settings.ServiceSettings("http://127.0.0.1:9/api/v1", timeout=3, verify_tls=False)
    )
    assert client.server == "http://127.0.0.1:9"
    assert client.timeout == 3
    assert client.verify_tls is False
    waiting = client.client_waiting_configuration
    assert (waiting.wait_exponential_multiplier_ms, waiting.wait_exponential_max_ms, waiting.stop_max_delay_ms) == (
        100,
        10000,
        20000,
    )


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 0, -1])
def test_service_settings_refuse_a_timeout_that_cannot_work(timeout: float) -> None:
    from anonlinkclient.service.settings import ServiceSettings

    with pytest.raises(errors.UsageError, match="the timeout must be a positive number of seconds"):
        ServiceSettings(timeout=timeout)


def test_a_token_is_never_shown_in_the_settings() -> None:
    from anonlinkclient.service.settings import ServiceSettings

    settings = ServiceSettings(apikey="s3cr3t-token")
    assert "s3cr3t-token" not in repr(settings)
    assert settings.token() == "s3cr3t-token"
    with pytest.raises(errors.UsageError, match="no token given"):
        ServiceSettings().token()
