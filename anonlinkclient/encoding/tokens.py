"""clkhash's tokenisers, one formatted value at a time: the tokens a value's Bloom-filter bits come from.

These are the definitions (clkhash's ``comparators``), in plain Python: the schema checks use
them on the values a schema fixes, and the encoder on a value it cannot tokenise in bulk.
The bulk n-gram cutter (:func:`anonlinkclient.encoding.features.ngram_codes`) gives the
same tokens as :func:`ngram_tokens`. No NumPy here (``validate-schema`` imports this module).
"""

from typing import List


def numeric_tokens(word: str, distance_interval: int, resolution: int, fractional_precision: int) -> List[str]:
    """The tokens of clkhash's numeric comparison for ``word`` (raises ``ValueError``/``OverflowError``)."""
    if len(word) == 0:
        return []
    try:
        v = int(word, 10)
        if fractional_precision > 0:
            v *= pow(10, fractional_precision)
    except ValueError:
        v_float = float(word)
        if fractional_precision > 0:
            v = int(round(v_float * pow(10, fractional_precision)))
        else:
            v = int(v_float)
    v = v * 2 * resolution
    residue = v % distance_interval
    if residue == 0:
        pass
    elif residue < distance_interval / 2:
        v = v - residue
    else:
        v = v + (distance_interval - residue)
    return [str(v + i * distance_interval) for i in range(-resolution, resolution + 1)]


def ngram_tokens(word: str, n: int, positional: bool) -> List[str]:
    """The tokens of clkhash's n-gram comparison for ``word``."""
    if len(word) == 0:
        return []
    if n > 1:
        pad = " " * (n - 1)
        word = pad + word + pad
    if positional:
        return [f"{i + 1} {word[i : i + n]}" for i in range(len(word) - n + 1)]
    return [word[i : i + n] for i in range(len(word) - n + 1)]


def exact_tokens(word: str) -> List[str]:
    """The tokens of clkhash's exact comparison for ``word``: the value itself, if not empty."""
    return [word] if word else []
