"""Helpers for the Entity Service client tests: CLK and block files made on the fly, and a quick project."""

import base64
import json
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from anonlinkclient.service.rest_client import RestClient


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


def new_project(client: RestClient, parties: int = 2, blocked: bool = False, result_type: str = "groups") -> Dict:
    """Create a project on the service; return the credentials answer."""
    return client.project_create(schema_document(), result_type, "test", parties=parties, uses_blocking=blocked)


def new_linked_project(client: RestClient, directory: Path, count: int = 20) -> Dict:
    """A 2-party project whose parties uploaded ``count`` similar random CLKs directly; return its credentials.

    Party A's CLKs are ``random_clks(count)``, party B's a noisy copy (written to ``a.json``, ``b.json``).
    """
    credentials = new_project(client)
    clks = random_clks(count)
    for token, party_clks, name in zip(credentials["update_tokens"], (clks, noisy(clks)), "ab"):
        with open(write_clk_file(directory / f"{name}.json", party_clks), "rb") as handle:
            client.project_upload_clks(credentials["project_id"], token, handle)
    return credentials


def secrets_of(credentials: Dict[str, Any]) -> List[str]:
    """Every token in a create-project answer."""
    return [credentials["result_token"], *credentials["update_tokens"]]
