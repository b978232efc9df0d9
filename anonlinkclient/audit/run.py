"""The audit: hash (or read) the CLKs, attack them as an attacker would, score with the truth.

:func:`audit_files` is what ``anonlink audit`` runs; :func:`audit_population` does the
work on records and CLKs already in memory. Two scenarios:

- **worst case**: the attacker's list is the custodian's own records (the attacker
  knows the population exactly, values and frequencies);
- **reference**: the attacker's list is another file (a public list such as a voter
  roll, or a disjoint sample), holding some of the schema's columns; each column is
  a list of its own (the combinations in it are other people's).

In each, both attacks (:mod:`.attacks`) run on the CLKs with only what an attacker
has, after undoing what an attacker can undo of hardening (:mod:`.attacks.undo`);
:mod:`.scoring` then compares what they concluded with the truth.
"""

import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from clkhash.schema import Schema

from anonlinkclient.audit.attacks.frequency import frequency_attack
from anonlinkclient.audit.attacks.model import AttackResult, Encodings, Guess, Public
from anonlinkclient.audit.attacks.patterns import pattern_mining_attack
from anonlinkclient.audit.attacks.undo import undo_hardening
from anonlinkclient.audit.census import Census, census
from anonlinkclient.audit.data import (
    Items,
    Population,
    applicable,
    public_parameters,
    read_population,
    read_reference,
    reference_items,
    tokenise,
)
from anonlinkclient.audit.scoring import Figures, Recovered, Truth, score, translate
from anonlinkclient.encoding.hardening_schema import hardening_of
from anonlinkclient.encoding.hashing import hash_source
from anonlinkclient.encoding.parallel import Keys, derive_keys, derive_step_keys, encode_records
from anonlinkclient.encoding.pii import ColumnMapping, open_pii
from anonlinkclient.encoding.schema import load_linkage_schema, schema_file_fingerprint
from anonlinkclient.encoding.secrets import secret_check_value
from anonlinkclient.errors import InputFileError, RecordError, UsageError
from anonlinkclient.io.clk_file import open_clk_file
from anonlinkclient.io.records import RecordSource
from anonlinkclient.io.sources import PiiOptions

logger = logging.getLogger(__name__)

WORST_CASE = "worst-case"
REFERENCE = "reference"
#: The fewest records an audit can say anything about.
MIN_RECORDS = 2
#: Records of a CLK file hashed again to check that it was made from the data with this secret and schema.
CHECKED_CLKS = 200

ATTACKS = (frequency_attack, pattern_mining_attack)


@dataclass
class AuditResult:
    """Everything an audit found (the report and ``--json`` show it).

    :ivar figures: one entry per attack, scenario and feature.
    :ivar not_audited: ``(feature, why)`` for the hashed features the attacks do not apply to.
    :ivar notes: ``(attack, scenario, line)``: what each attack did.
    :ivar recovered: by ``(attack, scenario, feature)``, the values and q-grams recovered
        (plaintext: for the report, never the terminal or the JSON).
    :ivar hardening: the schema's folding and hardening steps, one short text each.
    """

    schema_name: str
    records: int
    figures: List[Figures]
    census: Census
    not_audited: List[Tuple[str, str]]
    notes: List[Tuple[str, str, str]] = field(default_factory=list)
    scenarios: List[str] = field(default_factory=list)
    seconds: float = 0.0
    recovered: Dict[Tuple[str, str, str], Recovered] = field(default_factory=dict)
    clk_bits: int = 0
    source_name: str = ""
    hardening: List[str] = field(default_factory=list)

    def as_json(self) -> Dict[str, Any]:
        """The figures as ``--json`` writes them."""
        return {
            "records": self.records,
            "schema": self.schema_name,
            "attacks": [figure.as_json() for figure in self.figures],
            "not_audited": [{"feature": feature, "why": why} for feature, why in self.not_audited],
            "census": self.census.as_json(),
        }


def audit_population(
    schema: Schema,
    keys: Keys,
    population: Population,
    encodings: Encodings,
    reference: Optional[Population] = None,
    schema_name: str = "the schema",
    step_keys: Sequence[bytes] = (),
) -> AuditResult:
    """Attack the CLKs of ``population`` in both scenarios and score the attacks.

    :param keys: the keys the CLKs were hashed with (only the scoring and census use them).
    :param step_keys: the keys of a hardened schema's steps (only the scoring uses them).
    :param encodings: the CLK of each record of ``population``, in order.
    :param reference: the attacker's list for the reference scenario, if any.
    """
    started = time.perf_counter()
    if population.count != encodings.count:
        raise UsageError(f"{population.count} records but {encodings.count} CLKs")
    if population.count < MIN_RECORDS:
        raise InputFileError(population.name, _too_few(population.count))
    populations = [population] + ([reference] if reference is not None else [])
    tokens = tokenise(schema, populations)
    truth = Truth(schema, keys, tokens, populations, step_keys)
    attacked = [f for f in sorted(population.columns) if applicable(schema.fields[f]) is None]
    not_audited = [
        (schema.fields[f].identifier, why) for f in sorted(population.columns) if (why := applicable(schema.fields[f]))
    ]
    figures: List[Figures] = []
    recovered: Dict[Tuple[str, str, str], Recovered] = {}
    notes: List[Tuple[str, str, str]] = []
    scenarios = []
    worst_guesses: List[Guess] = []
    public = public_parameters(schema, tokens, populations, exact=True)
    attacked_encodings, kept, undone = undo_hardening(encodings)
    notes += [("all", "all", line) for line in undone]
    unscored = sorted({why for f in attacked if (why := truth.unscored(f)) is not None})
    notes += [("all", "all", f"position precision and recall are not scored: {why}") for why in unscored]
    # The worst case: the list is the records themselves, every feature together.
    plans: List[Tuple[str, Population, bool, List[int]]] = [(WORST_CASE, population, True, attacked)]
    if reference is not None:
        # A list an attacker could have: the values of each feature on their own (whose
        # combinations are other people's), as the published attacks use name lists.
        plans += [(REFERENCE, reference, False, [f]) for f in attacked if f in reference.columns]
    for scenario, source, exact, features in plans:
        if not features:
            continue
        if scenario not in scenarios:
            scenarios.append(scenario)
        items = reference_items(source, features, tokens)
        values = {f: translate(items, column, source, population, f) for column, f in enumerate(features)}
        public = public_parameters(schema, tokens, populations, exact=exact)
        for attack in ATTACKS:
            result = _attack(attack, attacked_encodings, items, public, scenario)
            result.guesses = [Guess(g.tokens, kept[g.positions], g.support) for g in result.guesses]
            label = scenario if scenario == WORST_CASE else f"{scenario}: {schema.fields[features[0]].identifier}"
            notes += [(result.attack, label, line) for line in result.notes]
            for found, what in score(result, scenario, items, values, population, truth):
                figures.append(found)
                recovered[(found.attack, scenario, found.feature)] = what
            if scenario == WORST_CASE and result.attack == "pattern-mining":
                worst_guesses = result.guesses
        del items, values  # before the next list is made
    the_census = census(schema, population, encodings, truth, tokens, worst_guesses, public.bits_per_token)
    return AuditResult(
        schema_name,
        population.count,
        figures,
        the_census,
        not_audited,
        notes,
        scenarios,
        time.perf_counter() - started,
        recovered,
        encodings.bits,
        population.name,
        _steps(schema),
    )


def _steps(schema: Schema) -> List[str]:
    """The schema's folding and hardening, one short text each."""
    hardening = hardening_of(schema)
    folds = [f"xorFolds: {hardening.xor_folds}"] if hardening.xor_folds else []
    return folds + hardening.summary()


def _too_few(count: int) -> str:
    return f"has {count} {'record' if count == 1 else 'records'}; an audit needs at least {MIN_RECORDS}"


def _attack(attack: Any, encodings: Encodings, items: Items, public: Public, scenario: str) -> AttackResult:
    started = time.perf_counter()
    result: AttackResult = attack(encodings, items.reference, public)
    logger.info(
        f"{result.attack} attack ({scenario}): {time.perf_counter() - started:.1f} s; " + "; ".join(result.notes)
    )
    return result


#: Opens the records anew for each pass over them (a source is read once, front to back).
Opener = Callable[[], RecordSource]


def pii_opener(
    argument: Any,
    schema: Schema,
    header: bool = True,
    options: Optional[PiiOptions] = None,
    columns: Optional[ColumnMapping] = None,
) -> Opener:
    """Opens the PII as ``hash`` opens it (:func:`~anonlinkclient.encoding.pii.open_pii`): a CSV, a Parquet
    file, an Excel workbook, a database URL or a DataFrame."""
    where = options or PiiOptions()

    def opener() -> RecordSource:
        return open_pii(argument, schema, header, where.input_format, where.table, where.query, where.sheet, columns)

    return opener


def hash_population(
    opener: Opener, secret: Union[str, bytes], schema: Schema, count: int, workers: Optional[int] = None
) -> Encodings:
    """The CLKs of the records, hashed as ``hash`` hashes them.

    :raises InputFileError: naming row and column of a value that does not fit the
        schema, without showing the value (the audit prints no plaintext).
    """
    bits = hardening_of(schema).clk_bits
    with opener() as source:
        try:
            with contextlib.closing(hash_source(source, secret, schema, True, workers)) as clks:
                rows = _gather(clks, (bits + 7) // 8, count)
            if rows is None:
                raise InputFileError(source.name, f"changed while it was audited (it had {count} records before)")
        except InputFileError as exc:
            if exc.message.startswith("Invalid entry"):
                raise InputFileError(
                    exc.path,
                    "Invalid entry: the value does not fit the schema (not shown)",
                    exc.row,
                    exc.column,
                    exc.row_label,
                ) from None
            raise
    return Encodings(rows, bits)


def _gather(clks: Iterable[bytes], size: int, count: int) -> Optional[np.ndarray]:
    """The ``count`` CLKs as one ``(records, bytes)`` array, filled a few thousand at a time
    (``None`` if there are more or fewer)."""
    rows = np.empty((count, size), dtype=np.uint8)
    batch: List[bytes] = []
    done = 0
    for clk in itertools.chain(clks, [b""]):
        if clk:
            batch.append(clk)
        if len(batch) == 8192 or (not clk and batch):
            if done + len(batch) > count:
                return None
            rows[done : done + len(batch)] = np.frombuffer(b"".join(batch), dtype=np.uint8).reshape(-1, size)
            done += len(batch)
            batch = []
    return rows if done == count else None


def read_clks(
    clk_path: str, population: Population, secret: Union[str, bytes], schema_path: str, schema: Schema
) -> Encodings:
    """The CLKs of a CLK file, checked against the data they are said to come from.

    The file must hold one CLK per record, of the schema's length; the schema
    fingerprint and secret check value it records (if any) must be the schema's and the
    secret's; and the first records, hashed again, must give its first CLKs.

    :raises InputFileError: naming what does not fit.
    """
    bits = hardening_of(schema).clk_bits
    size = (bits + 7) // 8
    with open_clk_file(clk_path) as clk_file:
        meta = clk_file.info.meta
        if meta is not None:
            if meta.clk_bits is not None and meta.clk_bits != bits:
                raise InputFileError(clk_path, f"holds {meta.clk_bits}-bit CLKs, but the schema makes {bits}-bit CLKs")
            fingerprint = schema_file_fingerprint(schema_path)
            if meta.schema_fingerprint is not None and meta.schema_fingerprint != fingerprint:
                raise InputFileError(
                    clk_path, "was hashed with another linkage schema (its schema fingerprint differs)"
                )
            if meta.secret_check is not None and meta.secret_check != secret_check_value(secret):
                raise InputFileError(clk_path, "was hashed with another secret (its secret check value differs)")
        clks: List[bytes] = []
        for clk in clk_file:
            if len(clk) != size:
                raise InputFileError(
                    clk_path,
                    f"its CLKs have {len(clk)} bytes, but the schema makes {size}-byte CLKs",
                    row=len(clks),
                    row_label="CLK",
                )
            clks.append(clk)
            if len(clks) > population.count:
                break
    if len(clks) != population.count:
        more = "more" if len(clks) > population.count else str(len(clks))
        raise InputFileError(clk_path, f"holds {more} CLKs, but {population.name} has {population.count} records")
    _check_first(clks, population, secret, schema, clk_path)
    return Encodings.from_clks(clks, bits)


def _check_first(
    clks: Sequence[bytes],
    population: Population,
    secret: Union[str, bytes],
    schema: Schema,
    clk_path: str,
) -> None:
    """Hash the first records again and compare them with the file's first CLKs."""
    count = min(CHECKED_CLKS, population.count)
    rows = [
        [
            population.columns[f].values[population.columns[f].codes[r]] if f in population.columns else ""
            for f in range(len(schema.fields))
        ]
        for r in range(count)
    ]
    try:
        again = list(encode_records(rows, secret, schema, validate=False, workers=1))
    except RecordError:
        again = []
    differ = next((i for i, (a, b) in enumerate(zip(again, clks)) if a != b), None)
    if len(again) != count or differ is not None:
        raise InputFileError(
            clk_path,
            f"does not hold the CLKs of {population.name} with this secret and schema "
            f"(CLK {differ or 0} differs when hashed again)",
        )


def audit_files(
    pii: Any,
    secret: Union[str, bytes],
    schema_path: str,
    reference_path: Optional[str] = None,
    clk_path: Optional[str] = None,
    header: bool = True,
    workers: Optional[int] = None,
    options: Optional[PiiOptions] = None,
    columns: Optional[ColumnMapping] = None,
) -> AuditResult:
    """Audit the CLKs of PII (hashed now, or read from ``clk_path``) hashed with a schema and secret.

    :param pii: a CSV, a Parquet file, an Excel workbook or a database URL (``options``
        say which, and the table, query or sheet), or a DataFrame, as ``hash`` reads them.
    :param reference_path: the attacker's list for the reference scenario (a CSV
        whose header names some of the schema's features, and optionally ``count``).
    :param columns: feature -> column, for columns not named as the features.
    :raises InputFileError: for unusable data, CLK or reference files.
    :raises SchemaFileError: for an unusable schema.
    """
    schema = load_linkage_schema(schema_path)
    opener = pii_opener(pii, schema, header, options, columns)
    return audit_source(opener, secret, schema_path, reference_path, clk_path, workers)


def audit_source(
    opener: Opener,
    secret: Union[str, bytes],
    schema_path: str,
    reference_path: Optional[str] = None,
    clk_path: Optional[str] = None,
    workers: Optional[int] = None,
) -> AuditResult:
    """Audit the CLKs of the records a source holds (see :func:`audit_files`).

    :param opener: opens the records as a :class:`~anonlinkclient.io.records.RecordSource`
        (called once to read the values, once more to hash them).
    """
    schema = load_linkage_schema(schema_path)
    keys, step_keys = derive_keys(secret, schema), derive_step_keys(secret, schema)
    with opener() as source:
        population = read_population(source, schema)
    if population.count < MIN_RECORDS:
        raise InputFileError(population.name, _too_few(population.count))
    reference = read_reference(reference_path, schema) if reference_path is not None else None
    if clk_path is None:
        encodings = hash_population(opener, secret, schema, population.count, workers)
    else:
        encodings = read_clks(clk_path, population, secret, schema_path, schema)
    return audit_population(schema, keys, population, encodings, reference, schema_path, step_keys)
