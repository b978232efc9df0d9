"""Post-steps: what is done to each record's filter after its features are hashed into it.

The encoder (:class:`~anonlinkclient.encoding.encoder.ClkEncoder`) hashes the features of a
chunk of records into filters of :func:`~anonlinkclient.encoding.schema_checks.hash_bits`
bits, then applies the schema's post-steps in order (:func:`plan`); what comes out is the
CLK. The steps are clkhash's XOR folding (``xor_folds``, and the schema's ``xorFolds``) and
the hardening steps of ``clkConfig.hardening`` (:mod:`.hardening`; specified to the byte in
docs/linkage-schema.rst).

A post-step is a function ``step(bits, context) -> bits``:

* ``bits`` is a 2-D ``uint8`` array of 0s and 1s, a row per record of the chunk, in
  clkhash's bit order: bit ``i`` of a CLK is ``np.unpackbits(np.frombuffer(clk, np.uint8))[i]``
  (:func:`unpack_bits` and :func:`pack_bits` convert). The step returns the new rows; their
  length may differ from the input's (it must be what the step's length rule says).
* ``context`` (:class:`StepContext`) holds the step's parameters, its key and the chunk's raw
  records (with :meth:`StepContext.values` for a named feature's column).

Every step is an entry of the one table :data:`POST_STEPS`: its name (the ``type`` a schema
gives it) -> :class:`PostStep` (the function, its length rule and, optionally, a faster
equivalent on packed bytes). Adding a step is one function and one entry there; a schema
names it in :func:`plan`.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np
from clkhash.schema import Schema

from anonlinkclient.encoding import hardening
from anonlinkclient.encoding.hardening_schema import hardening_of
from anonlinkclient.errors import UnhashableSchema

#: A step's parameters, as the schema gives them (e.g. ``{"folds": 2}``).
Params = Mapping[str, Any]


@dataclass(frozen=True)
class StepContext:
    """What a post-step is given beside the bits of a chunk.

    :ivar params: the step's parameters.
    :ivar key: the step's key (``b""`` for a step that takes none): derived from the secret
        under a label of its own (:func:`~anonlinkclient.encoding.keyed.step_key`) and given
        to :func:`plan`.
    :ivar records: the chunk's raw records (each a sequence of one string per schema
        feature), in the order of the rows of ``bits``.
    :ivar columns: feature identifier -> its index in a record.
    """

    params: Params
    key: bytes
    records: Sequence[Sequence[str]]
    columns: Mapping[str, int]

    def values(self, identifier: str) -> List[str]:
        """The raw value of feature ``identifier`` of each record of the chunk."""
        index = self.columns[identifier]
        return [record[index] for record in self.records]


#: ``step(bits, context) -> bits``: the rows of a chunk's filters in, the new rows out.
StepFunction = Callable[[np.ndarray, StepContext], np.ndarray]
#: ``length(bits_in, params) -> bits_out``: the length of a step's rows from the length it is given.
LengthRule = Callable[[int, Params], int]


class PostStep(NamedTuple):
    """One kind of post-step: an entry of :data:`POST_STEPS`.

    :ivar apply: the step on rows of bits.
    :ivar length: the length of its output rows, from the length of its input rows.
    :ivar packed: optionally, the same step on packed rows (``uint8``, clkhash's bytes, as
        :func:`pack_bits` makes them), used instead of ``apply`` when the lengths in and out
        are whole bytes and the rows are still packed: it must give exactly the bytes of
        ``pack_bits(apply(unpack_bits(rows, length), context))``.
    """

    apply: StepFunction
    length: LengthRule
    packed: Optional[StepFunction] = None


def unpack_bits(packed: np.ndarray, length: int) -> np.ndarray:
    """Rows of ``length`` bits (``uint8`` 0/1) from packed rows (``uint8`` or ``uint64``, clkhash's bytes in order)."""
    return np.unpackbits(packed.view(np.uint8), axis=1, count=length)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Packed rows (``uint8``, clkhash's bytes: bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8``) of rows of bits."""
    return np.packbits(bits, axis=1)


def same_length(length: int, params: Params) -> int:
    """The length rule of a step that keeps the length."""
    return length


def doubled_length(length: int, params: Params) -> int:
    """``balance``'s length rule: twice the length."""
    return 2 * length


# --------------------------------------------------------------------------- the steps


def xor_fold(bits: np.ndarray, context: StepContext) -> np.ndarray:
    """Fold in halves ``folds`` times: ``b[:L/2] XOR b[L/2:]`` (clkhash's ``fold_xor``).

    Packed rows whose halves are whole bytes at every fold fold the same way, a byte for a
    bit: the function is its own packed form.
    """
    for _ in range(context.params["folds"]):
        half = bits.shape[1] // 2
        bits = bits[:, :half] ^ bits[:, half:]
    return bits


def folded_length(length: int, params: Params) -> int:
    """The length after ``folds`` XOR folds (``length`` is divisible by ``2**folds``)."""
    folded: int = length >> params["folds"]
    return folded


#: Every post-step there is, by the name a schema gives it.
POST_STEPS: Dict[str, PostStep] = {
    "xorFold": PostStep(xor_fold, folded_length, packed=xor_fold),
    "permute": PostStep(hardening.permute, same_length),
    "balance": PostStep(hardening.balance, doubled_length),
    "rule90": PostStep(hardening.rule90, same_length, packed=hardening.rule90_packed),
    "rehash": PostStep(hardening.rehash, same_length, packed=hardening.rehash_packed),
    "randomizedResponse": PostStep(
        hardening.randomized_response, same_length, packed=hardening.randomized_response_packed
    ),
}


# --------------------------------------------------------------------------- a schema's steps


class PlannedStep(NamedTuple):
    """One post-step of a schema's list: which step, with which parameters and key."""

    name: str
    step: PostStep
    params: Params
    key: bytes = b""

    def context(self, records: Sequence[Sequence[str]], columns: Mapping[str, int]) -> StepContext:
        """This step's context for a chunk of ``records``."""
        return StepContext(self.params, self.key, records, columns)


def plan(schema: Schema, step_keys: Sequence[bytes] = ()) -> List[PlannedStep]:
    """The post-steps ``schema`` asks for, in the order they apply.

    XOR folding first (clkhash's ``xor_folds``, or the schema's ``xorFolds``: ``xorFold``),
    then the schema's hardening steps in list order (not its salts, which apply while the
    features are hashed), each with its key.

    :param step_keys: the key of each entry of the schema's ``clkConfig.hardening``, in order
        (:func:`~anonlinkclient.encoding.parallel.derive_step_keys`).
    :raises UnhashableSchema: if the schema hardens but the keys are missing.
    """
    steps = []
    if schema.xor_folds:
        steps.append(PlannedStep("xorFold", POST_STEPS["xorFold"], {"folds": schema.xor_folds}))
    hardened = hardening_of(schema)
    if len(step_keys) < len(hardened.steps):
        raise UnhashableSchema(None, f"{len(hardened.steps)} hardening steps need their keys (given {len(step_keys)})")
    for step in hardened.post_steps:
        steps.append(PlannedStep(step.type, POST_STEPS[step.type], step.params, step_keys[step.index]))
    return steps


def final_length(steps: Sequence[PlannedStep], length: int) -> int:
    """The length of the rows the ``steps`` make from rows of ``length`` bits: the CLK length."""
    for planned in steps:
        length = planned.step.length(length, planned.params)
    return length


def apply_steps(
    steps: Sequence[PlannedStep],
    packed: np.ndarray,
    length: int,
    records: Sequence[Sequence[str]],
    columns: Mapping[str, int],
) -> np.ndarray:
    """Packed rows (``uint8``) of the CLKs: ``steps`` applied to packed filters of ``length`` bits.

    Rows stay packed while each step has a packed form and its lengths are whole bytes;
    they are unpacked for the first step that needs bits, and packed again at the end.
    """
    data: Optional[np.ndarray] = packed.view(np.uint8)[:, : (length + 7) // 8]
    bits: Optional[np.ndarray] = None
    for planned in steps:
        context = planned.context(records, columns)
        after = planned.step.length(length, planned.params)
        if data is not None and planned.step.packed is not None and length % 8 == 0 and after % 8 == 0:
            data = planned.step.packed(data, context)
        else:
            if data is not None:
                bits, data = unpack_bits(data, length), None
            assert bits is not None
            bits = planned.step.apply(bits, context)
        length = after
    if data is not None:
        return data
    assert bits is not None
    return pack_bits(bits)
