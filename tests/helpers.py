"""Small helpers shared by the tests: paths to bundled data, running the CLI, CLK and block files made on the fly."""

import base64
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from click.testing import CliRunner, Result

from anonlinkclient.cli import cli
from tests.secrets_guard import allow_secret_file, record_output

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
TUTORIAL_DATA = ROOT / "docs" / "tutorial" / "data"
NCVR_20 = [TUTORIAL_DATA / f"ncvr_numrec_5000_modrec_2_ocp_20_myp_{party}_nump_10.csv" for party in range(3)]


def data(name: str) -> str:
    """Path (as a string) of a file in tests/data."""
    return str(TEST_DATA / name)


def tutorial(name: str) -> str:
    """Path (as a string) of a file in docs/tutorial/data."""
    return str(TUTORIAL_DATA / name)


CREDENTIAL_OUTPUT_COMMANDS = {"create-project", "create", "upload"}


def _note_run(args: List[str], stdout: str, stderr: str) -> None:
    """Hand the run's output to the secrets guard; exempt the files the user asked to hold tokens."""
    record_output(f"anonlink {' '.join(args[:1])} stdout", stdout)
    record_output(f"anonlink {' '.join(args[:1])} stderr", stderr)
    if CREDENTIAL_OUTPUT_COMMANDS.intersection(args):
        for flag in ("-o", "--output"):
            if flag in args[:-1]:
                allow_secret_file(args[args.index(flag) + 1])


def run_cli(*args: Any, env: Optional[dict] = None, input: Optional[str] = None) -> Result:
    """Invoke ``anonlink ARGS`` in-process with click's CliRunner (stderr kept apart)."""
    arguments = [str(a) for a in args]
    result = CliRunner().invoke(cli, arguments, env=env, input=input, catch_exceptions=False)
    _note_run(arguments, result.stdout, result.stderr)
    return result


def run_anonlink(
    *args: Any, env: Optional[dict] = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess:
    """Run ``python -m anonlinkclient ARGS`` as a real subprocess and capture its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    arguments = [str(a) for a in args]
    done = subprocess.run(
        [sys.executable, "-m", "anonlinkclient", *arguments],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        **kwargs,
    )
    _note_run(arguments, done.stdout or "", done.stderr or "")
    return done


def load_clks(path: Any) -> List[str]:
    """The ``clks`` list of a CLK JSON file."""
    with open(path) as handle:
        clks: List[str] = json.load(handle)["clks"]
    return clks


# ---- CLK and block files made on the fly ----


def random_clks(count: int, size: int = 128, seed: int = 0) -> List[bytes]:
    """``count`` random CLKs of ``size`` bytes (about half the bits set)."""
    rng = random.Random(seed)
    return [bytes(rng.getrandbits(8) for _ in range(size)) for _ in range(count)]


def noisy(clks: Sequence[bytes], flips: int = 20, seed: int = 1) -> List[bytes]:
    """Copies of ``clks`` with ``flips`` random bits flipped in each (still clearly similar)."""
    rng = random.Random(seed)
    result = []
    for clk in clks:
        data = bytearray(clk)
        for bit in rng.sample(range(len(data) * 8), flips):
            data[bit // 8] ^= 1 << (bit % 8)
        result.append(bytes(data))
    return result


def write_clk_file(path: Path, clks: Sequence[bytes]) -> Path:
    """Write ``{"clks": [...]}`` as ``anonlink hash`` does; return the path."""
    path.write_text(json.dumps({"clks": [base64.b64encode(c).decode("ascii") for c in clks]}))
    return path


def write_block_file(path: Path, blocks: Sequence[Sequence[Any]], declared: Optional[int] = None) -> Path:
    """Write a block file as ``anonlink block`` does: record index -> block ids, with ``meta.source.clk_count``."""
    document = {
        "blocks": {str(i): list(ids) for i, ids in enumerate(blocks) if ids},
        "meta": {"source": {"clk_count": [len(blocks) if declared is None else declared]}},
    }
    path.write_text(json.dumps(document))
    return path


def schema_document(bits: int = 1024) -> Dict[str, Any]:
    """A small valid v3 linkage schema whose CLKs have ``bits`` bits."""
    return {
        "version": 3,
        "clkConfig": {
            "l": bits,
            "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64, "salt": "c2FsdA==", "info": "aW5mbw=="},
        },
        "features": [
            {"identifier": "id", "ignored": True},
            {
                "identifier": "name",
                "format": {"type": "string", "encoding": "utf-8"},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 2},
                    "strategy": {"bitsPerToken": 20},
                    "hash": {"type": "doubleHash"},
                },
            },
        ],
    }
