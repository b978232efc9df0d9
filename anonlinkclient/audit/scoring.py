"""Scoring the attacks with the custodian's truth: the one part of the audit that sees the keys.

:class:`Truth` knows where each token really lands in the CLK: it hashes the token
with the real keys through the encoder's own token hashing
(:class:`~anonlinkclient.encoding.token_hashing.Hasher`, bit-identical to clkhash's), and
follows it through the CLK's post-steps (:func:`position_map`: XOR folding, and the
hardening steps that move a position as a whole: ``permute``, ``balance``, whose
uncomplemented copy is the one an attacker keeps, and ``randomizedResponse``, which only
adds noise). After ``rule90`` or ``rehash`` a token has no positions of its own in the CLK,
and a salted feature's tokens have other positions under every salt: there, the position
figures are not scored (``None``), and the re-identification figures still are. :func:`score` compares an
attack's guesses with that, and its candidate values with every record's true value,
feature by feature:

- **q-grams identified**: tokens of the feature the attack assigned positions to;
- **position precision**: of the positions it assigned, the share the tokens really
  set; **position recall**: of the positions the tokens always set, the share it found;
- **re-identification** of each record's value: *correct* (one candidate, the true
  value), *one-to-many* (2 to :data:`MAX_CANDIDATES` candidates, the true value among
  them), *wrong* (1 to :data:`MAX_CANDIDATES` candidates, none of them true), *no
  guess* (no candidate, more than :data:`MAX_CANDIDATES`, or every value of the list:
  nothing learned);
- **chance**: the share of records an attacker re-identifies by guessing the list's
  most frequent value for everyone, without any CLK.
"""

from dataclasses import asdict, dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np
from clkhash.schema import Schema

from anonlinkclient.audit.attacks.model import AttackResult
from anonlinkclient.audit.data import Items, Population, Tokens, token_lengths
from anonlinkclient.encoding.hardening import gather_of
from anonlinkclient.encoding.hardening_schema import hardening_of
from anonlinkclient.encoding.post_steps import PlannedStep, plan
from anonlinkclient.encoding.schema_checks import hash_bits
from anonlinkclient.encoding.token_hashing import Hasher

#: The most candidate values a guess may have to count (the published attacks' "1-to-m").
MAX_CANDIDATES = 10

Keys = Sequence[Sequence[bytes]]


def position_map(steps: Sequence[PlannedStep], length: int) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Where each position of the hashed filter (of ``length`` bits) lands in the CLK after ``steps``.

    :return: ``(where, None)``, ``where[p]`` the CLK position of filter position ``p`` (its
        uncomplemented copy after ``balance``); or ``(None, step)`` for the first step that
        scatters positions (``rule90``, ``rehash``).
    """
    where = np.arange(length, dtype=np.int64)
    for planned in steps:
        gathered = gather_of(planned.name, planned.key, length)
        if gathered is not None:
            source, flip = gathered
            destination = np.zeros(length, dtype=np.int64)
            kept = np.flatnonzero(~flip)
            destination[source[kept]] = kept
            where, length = destination[where], len(source)
        elif planned.name == "xorFold":
            for _ in range(int(planned.params["folds"])):
                length //= 2
                where = np.where(where >= length, where - length, where)
        elif planned.name != "randomizedResponse":
            return None, planned.name
    return where, None


class Truth:
    """The true bit positions of tokens, from the real keys.

    Under ``bitsPerFeature`` a token is inserted with a number of bits that depends on
    the value it is in: :meth:`positions` gives the positions it can set (with the most
    bits any value gives it) and those it always sets (with the fewest).

    :param step_keys: the keys of a hardened schema's steps
        (:func:`~anonlinkclient.encoding.parallel.derive_step_keys`).
    """

    def __init__(
        self,
        schema: Schema,
        keys: Keys,
        tokens: Tokens,
        populations: Sequence[Population] = (),
        step_keys: Sequence[bytes] = (),
    ) -> None:
        self.schema = schema
        self.keys = keys
        self.tokens = tokens
        self.hash_l = hash_bits(schema)
        self.where, self.scattered_by = position_map(plan(schema, step_keys), self.hash_l)
        self.salted = {identifier for step in hardening_of(schema).salts for identifier in step.params["features"]}
        self.ks: Dict[int, Tuple[int, int]] = {}
        for feature in sorted({feature for feature, _ in tokens.names}):
            strategy = schema.fields[feature].hashing_properties.strategy
            lengths = set(token_lengths(populations, feature).tolist()) or {1}
            ks = [k for n in lengths if n > 0 for k in strategy.bits_per_token(n)] or [0]
            self.ks[feature] = (min(ks), max(ks))
        self.cache: Dict[int, Tuple[FrozenSet[int], FrozenSet[int]]] = {}
        self.hashers: Dict[int, Hasher] = {}

    def hasher(self, feature: int) -> Hasher:
        """The encoder's token hashing of a feature, with the real keys."""
        known = self.hashers.get(feature)
        if known is None:
            fhp = self.schema.fields[feature].hashing_properties
            words = (self.hash_l + 63) // 64
            known = self.hashers[feature] = Hasher(fhp, self.keys[feature], self.hash_l, words, keep_seeds=True)
        return known

    def unscored(self, feature: int) -> Optional[str]:
        """Why the positions of a feature's tokens cannot be scored (``None``: they can)."""
        if self.scattered_by is not None:
            return f"after {self.scattered_by} a q-gram has no bit positions of its own in the CLK"
        if self.schema.fields[feature].identifier in self.salted:
            return "it is salted: its q-grams set other bit positions under every salt"
        return None

    def _bits(self, patterns: np.ndarray) -> List[FrozenSet[int]]:
        """The positions in the CLK of each packed pattern (as the post-steps move them; where
        they scatter them, the positions in the folded filter)."""
        bits = np.unpackbits(np.ascontiguousarray(patterns).view(np.uint8), axis=1)[:, : self.hash_l]
        if self.where is None:
            return [frozenset((np.flatnonzero(row) % self.schema.l).tolist()) for row in bits]
        return [frozenset(self.where[np.flatnonzero(row)].tolist()) for row in bits]

    def positions(self, token: int) -> Tuple[FrozenSet[int], FrozenSet[int]]:
        """``(positions the token can set, positions it always sets)`` in the CLK."""
        known = self.cache.get(token)
        if known is not None:
            return known
        feature, text = self.tokens.names[token]
        hasher = self.hasher(feature)
        fewest, most = self.ks[feature]
        messages = hasher.messages([text])
        known = self._bits(hasher.patterns(messages, most))[0], self._bits(hasher.patterns(messages, fewest))[0]
        self.cache[token] = known
        return known

    def value_bits(self, feature: int, values: Sequence[str]) -> float:
        """The mean number of distinct bits the given values of a feature set on their own."""
        spec = self.schema.fields[feature]
        fhp = spec.hashing_properties
        hasher = self.hasher(feature)
        sizes = []
        for value in values:
            try:
                tokens = list(fhp.comparator.tokenize(spec.format_value(value)))
                messages = hasher.messages(tokens)
            except (ValueError, OverflowError, UnicodeError):
                continue
            pattern = np.zeros((1, hasher.words), dtype=np.uint64)
            for message, k in zip(messages, fhp.strategy.bits_per_token(len(tokens))):
                pattern |= hasher.patterns([message], k)
            sizes.append(len(self._bits(pattern)[0]))
        return float(np.mean(sizes)) if sizes else 0.0


@dataclass(frozen=True)
class Figures:
    """What one attack achieved on one feature in one scenario (the ``--json`` entries)."""

    attack: str
    scenario: str
    feature: str
    qgrams_identified: int
    position_precision: Optional[float]
    position_recall: Optional[float]
    correct: int
    one_to_many: int
    wrong: int
    no_guess: int
    chance: float

    def as_json(self) -> Dict[str, Any]:
        """The figures as the JSON file holds them."""
        return asdict(self)


def translate(items: Items, column: int, reference: Population, population: Population, feature: int) -> np.ndarray:
    """Each item's value of a feature as a code of the audited population (-1: not one of its values)."""
    codes = items.codes[:, column]
    if reference is population:
        return codes.astype(np.int64)
    index = {value: code for code, value in enumerate(population.columns[feature].values)}
    mapping = np.array([index.get(value, -1) for value in reference.columns[feature].values], dtype=np.int64)
    return mapping[codes]


@dataclass(frozen=True)
class Recovered:
    """What an attack recovered of one feature, in plaintext (for the report only, never the terminal).

    :ivar values: the values most often re-identified one-to-one, with how many records.
    :ivar qgrams: the q-grams it assigned positions to, most supported first.
    """

    values: List[Tuple[str, int]]
    qgrams: List[str]


#: Values and q-grams the report shows per attack and feature.
SHOWN = 12

CORRECT, ONE_TO_MANY, WRONG, NO_GUESS = range(4)


def score(
    result: AttackResult,
    scenario: str,
    items: Items,
    item_values: Dict[int, np.ndarray],
    population: Population,
    truth: Truth,
) -> List[Tuple[Figures, Recovered]]:
    """The figures of one attack, per feature of the list (``item_values``: see :func:`translate`),
    with what it recovered in plaintext."""
    figures = []
    for feature in items.features:
        column = population.columns[feature]
        identified, precision, recall = _positions(result, truth, feature)
        kinds = categories(result, item_values[feature], column.codes)
        correct, one_to_many, wrong, no_guess = np.bincount(kinds, minlength=4).tolist()
        chance = _chance(items.reference.counts, item_values[feature], column.codes)
        found = Figures(
            result.attack,
            scenario,
            column.identifier,
            identified,
            precision,
            recall,
            correct,
            one_to_many,
            wrong,
            no_guess,
            chance,
        )
        right = np.bincount(column.codes[kinds == CORRECT], minlength=len(column.values))
        top = [int(code) for code in np.argsort(-right, kind="stable")[:SHOWN] if right[code] > 0]
        qgrams = [
            truth.tokens.names[t][1] for g in result.guesses for t in g.tokens if truth.tokens.names[t][0] == feature
        ]
        recovered = Recovered([(column.values[code], int(right[code])) for code in top], qgrams[:SHOWN])
        figures.append((found, recovered))
    return figures


def _positions(result: AttackResult, truth: Truth, feature: int) -> Tuple[int, Optional[float], Optional[float]]:
    tokens = set()
    guessed = hit = needed = found = 0
    unscored = truth.unscored(feature) is not None
    for guess in result.guesses:
        mine = [t for t in guess.tokens if truth.tokens.names[t][0] == feature]
        if not mine:
            continue
        tokens.update(mine)
        if unscored or any(truth.unscored(truth.tokens.names[t][0]) for t in guess.tokens):
            unscored = True
            continue
        can = frozenset().union(*(truth.positions(t)[0] for t in guess.tokens))
        always = frozenset().union(*(truth.positions(t)[1] for t in guess.tokens))
        positions = set(guess.positions.tolist())
        guessed += len(positions)
        hit += len(positions & can)
        needed += len(always)
        found += len(positions & always)
    if not tokens:
        return 0, None, None
    if unscored:
        return len(tokens), None, None
    return len(tokens), hit / guessed if guessed else None, found / needed if needed else None


def categories(result: AttackResult, item_values: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each record: :data:`CORRECT`, :data:`ONE_TO_MANY`, :data:`WRONG` or :data:`NO_GUESS`."""
    records = len(truth)
    item_keys = result.item_keys
    usable = item_keys >= 0
    span = int(max(item_values.max(initial=-1), truth.max(initial=-1))) + 2
    pairs = np.unique(item_keys[usable] * span + (item_values[usable] + 1))
    keys_of_pairs = pairs // span
    candidates = np.bincount(keys_of_pairs, minlength=int(result.record_keys.max(initial=-1)) + 1)
    everything = len(np.unique(item_values))
    record_keys = result.record_keys
    known = record_keys >= 0
    sizes = np.zeros(records, dtype=np.int64)
    sizes[known] = np.where(
        record_keys[known] < len(candidates), candidates[np.minimum(record_keys[known], len(candidates) - 1)], 0
    )
    guessing = (sizes >= 1) & (sizes <= MAX_CANDIDATES) & ~((sizes == everything) & (everything > 1))
    wanted = record_keys * span + (truth.astype(np.int64) + 1)
    spot = np.searchsorted(pairs, wanted)
    holds = (spot < len(pairs)) & (pairs[np.minimum(spot, len(pairs) - 1)] == wanted) & known
    kinds = np.full(records, NO_GUESS, dtype=np.int8)
    kinds[guessing & ~holds] = WRONG
    kinds[guessing & holds & (sizes > 1)] = ONE_TO_MANY
    kinds[guessing & holds & (sizes == 1)] = CORRECT
    return kinds


def _chance(item_counts: np.ndarray, item_values: np.ndarray, truth: np.ndarray) -> float:
    """The share of records holding the list's most frequent value."""
    if not len(truth) or not len(item_values):
        return 0.0
    known = item_values >= 0
    if not known.any():
        return 0.0
    totals = np.bincount(item_values[known], weights=item_counts[known])
    best = int(np.argmax(totals))
    return float((truth == best).mean())
