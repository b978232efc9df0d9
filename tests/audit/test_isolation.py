"""The attacks see only what an attacker has: never the secret, the keys or the true bit positions.

Checked twice: by reading every import of the attack modules (at any depth, as
tests/project/test_architecture.py walks them), and by running the attacks, on the
very inputs a real audit gives them, in a process where the encoder, clkhash and the
scoring cannot be imported at all.
"""

import ast
import dataclasses
import inspect
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from anonlinkclient.audit import run
from anonlinkclient.audit.attacks import frequency, model, patterns
from anonlinkclient.encoding.parallel import derive_keys
from tests.audit import planted
from tests.helpers import ROOT
from tests.project.test_architecture import internal_imports, package_modules

ATTACKS = ROOT / "anonlinkclient" / "audit" / "attacks"

#: What the attack modules may import: NumPy, a few standard modules, and the package's lowest layers.
ALLOWED_EXTERNAL = {"numpy", "math", "dataclasses", "typing", "collections", "itertools", "functools", "heapq"}
ALLOWED_INTERNAL = ("anonlinkclient.errors", "anonlinkclient.io.packed", "anonlinkclient.audit.attacks")

#: What a process running the attacks is refused: everything that knows keys or true positions.
FORBIDDEN = (
    "clkhash",
    "bitarray",
    "blocklib",
    "anonlink",
    "anonlinkclient.encoding",
    "anonlinkclient.audit.run",
    "anonlinkclient.audit.scoring",
    "anonlinkclient.audit.census",
    "anonlinkclient.audit.data",
    "anonlinkclient.audit.page",
)


def _external_imports(path: Path) -> List[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if not alias.name.startswith("anonlinkclient")]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if not node.module.startswith("anonlinkclient"):
                names.append(node.module)
    return names


def test_the_attack_modules_import_nothing_that_knows_a_key() -> None:
    modules = [(name, path) for name, path in package_modules() if path.is_relative_to(ATTACKS)]
    assert len(modules) >= 6
    for module, path in modules:
        for name in _external_imports(path):
            assert name.split(".")[0] in ALLOWED_EXTERNAL, f"{module} imports {name}"
        for name in internal_imports(path, module):
            assert name.startswith(ALLOWED_INTERNAL), f"{module} imports {name}"
    for path in (ROOT / "anonlinkclient" / "io" / "packed.py", ROOT / "anonlinkclient" / "errors.py"):
        assert {name.split(".")[0] for name in _external_imports(path)} <= ALLOWED_EXTERNAL | {"re"}
    for init in (ROOT / "anonlinkclient" / "audit" / "__init__.py", ATTACKS / "__init__.py"):
        assert _external_imports(init) == [] and internal_imports(init, "anonlinkclient.audit") == []


def test_the_attacks_take_only_clks_a_list_and_public_parameters() -> None:
    for attack in (frequency.frequency_attack, patterns.pattern_mining_attack):
        assert list(inspect.signature(attack).parameters) == ["encodings", "reference", "public", "settings"]
    fields = {
        kind: [f.name for f in dataclasses.fields(kind)] for kind in (model.Encodings, model.Reference, model.Public)
    }
    assert fields == {
        model.Encodings: ["rows", "bits"],
        model.Reference: ["counts", "starts", "tokens", "token_count"],
        model.Public: ["bits_per_token", "exact_reference"],
    }


@pytest.fixture(scope="module")
def attack_inputs(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Dict[str, List[int]]]:
    """The inputs a real audit (both scenarios) gives the attacks, pickled, and what the attacks made of them."""
    schema = planted.schema(planted.feature("first name"), planted.feature("state", k=20))
    rows = [[name, state] for name, state in zip(planted.first_names(6_000), planted.skewed(6_000, ["A", "BB", "CCC"]))]
    reference = planted.population_from_rows(
        "reference.csv", schema, [[n, ""] for n in planted.first_names(3_000, seed=9)]
    )
    del reference.columns[1]  # a list of first names only
    seen: List[Tuple[Any, ...]] = []
    results: Dict[str, List[int]] = {}

    def recording(attack: Any) -> Any:
        def wrapper(encodings: Any, reference: Any, public: Any) -> Any:
            seen.append((attack.__name__, encodings, reference, public))
            result = attack(encodings, reference, public)
            results[f"{attack.__name__} {len(seen)}"] = result.record_keys.tolist()
            return result

        return wrapper

    original = run.ATTACKS
    run.ATTACKS = tuple(recording(a) for a in original)
    try:
        planted.audit(schema, rows, reference=reference)
    finally:
        run.ATTACKS = original
    assert [name for name, *_ in seen] == ["frequency_attack", "pattern_mining_attack"] * 2
    path = tmp_path_factory.mktemp("attacks") / "inputs.pickle"
    path.write_bytes(pickle.dumps(seen))
    return path, results


def test_the_attack_inputs_hold_neither_the_secret_nor_a_key(attack_inputs: Tuple[Path, Any]) -> None:
    data = attack_inputs[0].read_bytes()
    schema = planted.schema(planted.feature("first name"), planted.feature("state", k=20))
    secrets = [planted.SECRET.encode()] + [bytes(key) for keys in derive_keys(planted.SECRET, schema) for key in keys]
    assert all(secret not in data for secret in secrets)
    for _, encodings, reference, public in pickle.loads(data):
        assert encodings.rows.dtype == np.uint8 and reference.tokens.dtype == np.int32
        assert set(public.bits_per_token.tolist()) == {15, 20}


RUN_WITHOUT_KEYS = """
import importlib.abc, json, pickle, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            raise ImportError(f"{name} may not be imported where the attacks run")
        return None

sys.meta_path.insert(0, Refuse())
from anonlinkclient.audit.attacks.frequency import frequency_attack
from anonlinkclient.audit.attacks.patterns import pattern_mining_attack

attacks = {"frequency_attack": frequency_attack, "pattern_mining_attack": pattern_mining_attack}
results = {}
for index, (name, encodings, reference, public) in enumerate(pickle.load(open(sys.argv[1], "rb")), start=1):
    results[f"{name} {index}"] = attacks[name](encodings, reference, public).record_keys.tolist()
loaded = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
print(json.dumps({"results": results, "loaded": loaded}))
"""


def test_the_attacks_run_where_nothing_that_knows_a_key_can_be_imported(attack_inputs: Tuple[Path, Any]) -> None:
    path, expected = attack_inputs
    code = f"FORBIDDEN = {FORBIDDEN!r}\n" + RUN_WITHOUT_KEYS
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["loaded"] == []
    assert answer["results"] == expected
    assert any(len(set(keys)) > 1 for keys in expected.values())  # the attacks did find something
