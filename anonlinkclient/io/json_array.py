"""The one streaming JSON writer: a list (or object) written one element at a time.

CLK files, groups, similarity scores, ``clknblocks`` and block files can hold
millions of entries; they are written element by element, each encoded by the
caller, so the whole document never has to be in memory. The bytes are those
``json.dump`` would write (``", "`` between elements).
"""

import json
from typing import IO, Any, Iterable


def write_sequence(handle: IO[str], encoded: Iterable[str], brackets: str = "[]") -> int:
    """Write already-encoded JSON elements between ``brackets`` (``"[]"`` or ``"{}"``); return how many.

    :param encoded: JSON values, or ``"key": value`` members for an object.
    """
    count = 0
    handle.write(brackets[0])
    for text in encoded:
        if count:
            handle.write(", ")
        handle.write(text)
        count += 1
    handle.write(brackets[1])
    return count


def write_list_document(handle: IO[str], key: str, encoded: Iterable[str]) -> int:
    """Write ``{"key": [element, ...]}`` one already-encoded element at a time; return how many."""
    handle.write(f"{{{json.dumps(key)}: ")
    count = write_sequence(handle, encoded)
    handle.write("}")
    return count


def encode(value: Any) -> str:
    """One JSON element as ``json.dump`` writes it."""
    return json.dumps(value)
