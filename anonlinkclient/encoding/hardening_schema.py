"""Reading and checking ``clkConfig.hardening`` and ``clkConfig.xorFolds`` of a linkage schema.

A hardened linkage schema is a (version 1, 2 or 3) linkage schema whose ``clkConfig`` has
``hardening``, an ordered list of steps (docs/linkage-schema.rst, "Hardening")::

    "hardening": [
        {"type": "salt", "saltFeature": "YOB", "features": ["NAME freetext"]},
        {"type": "balance"}
    ]

A ``salt`` entry applies while the features it names are hashed; every other step applies,
in list order, to each record's filter after the features are encoded (and folded by
``xorFolds``). :func:`hardening_problems` names everything wrong with them, one line each,
naming the step (``clkConfig.hardening[2] (rehash): ...``) or feature; :func:`read_hardening`
reads a schema that has none into a :class:`Hardening`.

``xorFolds``: the linkage-schema reference and clkhash's JSON Schemas document
``clkConfig.xorFolds`` (``l`` is the length after folding), but clkhash reads ``xor_folds``
and ignores ``xorFolds``. We follow the reference: ``xorFolds: f`` hashes the features into
``l * 2**f`` bits and folds them ``f`` times to ``l``, as ``xor_folds: f`` does in clkhash
(:func:`folds`); :func:`xor_folds_warning` says that clkhash-based tools will not.

This module needs no NumPy (``validate-schema`` imports it).
"""

import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from clkhash.schema import Schema

from anonlinkclient.encoding.schema_checks import MAX_BITS, MAX_BITS_PER_TOKEN

#: Every step ``type`` there is, in the order the docs list them.
STEP_TYPES = ("permute", "balance", "xorFold", "rule90", "rehash", "randomizedResponse", "salt")
#: Most positions ``rehash`` sets per window.
MAX_REHASH_BITS = MAX_BITS_PER_TOKEN
#: Most ``rule90`` iterations (any number takes as long as its binary digits).
MAX_ITERATIONS = 2**62


# --------------------------------------------------------------------------- parameters


def _integer(low: int, high: Optional[int] = None) -> Tuple[Callable[[Any], bool], str]:
    def check(value: Any) -> bool:
        return (
            isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
        )

    return check, f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"


def _probability(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value < 1


def _identifiers(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(item, str) for item in value)


_Check = Tuple[Callable[[Any], bool], str]
_IDENTIFIER: _Check = (lambda value: isinstance(value, str), "a feature identifier (a string)")
_IDENTIFIERS: _Check = (_identifiers, "a non-empty list of feature identifiers (strings)")

#: Each step's parameters: name -> (required, check, what a valid value is).
PARAMETERS: Dict[str, Dict[str, Tuple[bool, Callable[[Any], bool], str]]] = {
    "permute": {},
    "balance": {},
    "xorFold": {"folds": (True, *_integer(1, 62))},
    "rule90": {"iterations": (False, *_integer(1, MAX_ITERATIONS))},
    "rehash": {
        "window": (True, *_integer(1)),
        "step": (True, *_integer(1)),
        "bits": (True, *_integer(1, MAX_REHASH_BITS)),
    },
    "randomizedResponse": {
        "probability": (True, _probability, "a number between 0 and 1 (both excluded)"),
        "seedFeatures": (True, *_IDENTIFIERS),
    },
    "salt": {"saltFeature": (True, *_IDENTIFIER), "features": (True, *_IDENTIFIERS)},
}


# --------------------------------------------------------------------------- what a schema says


@dataclass(frozen=True)
class Step:
    """One entry of ``clkConfig.hardening``, checked.

    :ivar index: its position in the list (its key is derived with it).
    :ivar type: its ``type``.
    :ivar params: its parameters, with defaults filled in; a ``randomizedResponse`` step also
        gets ``missingValues``: seed feature -> (sentinel, replacement) of the features that
        have a missingValue.
    :ivar bits_in: / :ivar bits_out: the length it is given and the length it makes.
    """

    index: int
    type: str
    params: Mapping[str, Any]
    bits_in: int
    bits_out: int


@dataclass(frozen=True)
class Hardening:
    """What a linkage schema says about folding and hardening.

    :ivar filter_bits: ``clkConfig.l``, the filter the features are hashed into (after folding).
    :ivar xor_folds: the folds applied after hashing (``xorFolds``, or clkhash's ``xor_folds``).
    :ivar xor_folds_key: which of the two keys gave them (``None`` for no folds).
    :ivar steps: every entry of ``clkConfig.hardening``, in order (salts included).
    """

    filter_bits: int
    xor_folds: int = 0
    xor_folds_key: Optional[str] = None
    steps: Tuple[Step, ...] = field(default_factory=tuple)

    @property
    def post_steps(self) -> Tuple[Step, ...]:
        """The steps applied to the filters, in order (all but the salts)."""
        return tuple(step for step in self.steps if step.type != "salt")

    @property
    def salts(self) -> Tuple[Step, ...]:
        """The ``salt`` entries."""
        return tuple(step for step in self.steps if step.type == "salt")

    @property
    def hash_bits(self) -> int:
        """Bits the features are hashed into: ``l * 2**xor_folds``."""
        return self.filter_bits << self.xor_folds

    @property
    def clk_bits(self) -> int:
        """The length of the CLKs: what the last step makes (``l`` without post-steps)."""
        post = self.post_steps
        return post[-1].bits_out if post else self.filter_bits

    @property
    def hardened(self) -> bool:
        """Whether the schema has any hardening step."""
        return bool(self.steps)

    def summary(self) -> List[str]:
        """The steps in order, one short text each, e.g. ``salt(NAME by YOB)`` or ``xorFold(folds=1)``."""
        return [describe_step(step) for step in self.steps]


class HardenedSchema(Schema):
    """A clkhash :class:`~clkhash.schema.Schema` that also carries its folds and hardening.

    The linkage-schema loader (:func:`anonlinkclient.encoding.schema.linkage_schema`) makes
    these; a plain clkhash Schema (from :func:`clkhash.schema.from_json_dict`) has neither
    ``xorFolds`` nor ``hardening``, as clkhash reads them.
    """

    def __init__(self, schema: Schema, hardening: "Hardening") -> None:
        super().__init__(
            schema.fields,
            schema.l,
            hardening.xor_folds,
            schema.kdf_type,
            schema.kdf_hash,
            schema.kdf_info,
            schema.kdf_salt,
            schema.kdf_key_size,
        )
        self.hardening = hardening


def hardening_of(schema: Schema) -> "Hardening":
    """What ``schema`` says about folding and hardening (a plain clkhash Schema: its ``xor_folds`` only)."""
    if isinstance(schema, HardenedSchema):
        return schema.hardening
    return Hardening(schema.l, schema.xor_folds, "xor_folds" if schema.xor_folds else None)


def describe_step(step: Step) -> str:
    """A short text naming a step and its parameters, as metadata and ``describe`` show it."""
    params = step.params
    if step.type == "salt":
        return f"salt({', '.join(params['features'])} by {params['saltFeature']})"
    if step.type == "randomizedResponse":
        return (
            f"randomizedResponse(probability={params['probability']}, seedFeatures={', '.join(params['seedFeatures'])})"
        )
    shown = [f"{name}={params[name]}" for name in PARAMETERS[step.type] if name in params]
    return f"{step.type}({', '.join(shown)})" if shown else step.type


# --------------------------------------------------------------------------- folds


def _clk_config(document: Any) -> Dict[str, Any]:
    config = document.get("clkConfig") if isinstance(document, dict) else None
    return config if isinstance(config, dict) else {}


def folds_problem(document: Any) -> Optional[str]:
    """Why ``xorFolds`` / ``xor_folds`` cannot be used (``None`` if they can)."""
    config = _clk_config(document)
    check, expected = _integer(0, 62)
    for name in ("xorFolds", "xor_folds"):
        if name in config and not check(config[name]):
            return f"clkConfig.{name} is {json.dumps(config[name])}; expected {expected}"
    if "xorFolds" in config and "xor_folds" in config and config["xorFolds"] != config["xor_folds"]:
        return (
            f"clkConfig: xorFolds {config['xorFolds']} and xor_folds {config['xor_folds']} disagree; "
            "give the number of folds once, as xorFolds"
        )
    return None


def folds(document: Any) -> Tuple[int, Optional[str]]:
    """The XOR folds a (valid) schema asks for, and the key that says so: ``xorFolds``, else ``xor_folds``."""
    config = _clk_config(document)
    for name in ("xorFolds", "xor_folds"):
        value = config.get(name)
        if value:
            return int(value), name
    return 0, None


def xor_folds_warning(document: Any) -> Optional[str]:
    """The one warning line for a schema whose ``xorFolds`` clkhash-based tools ignore (``None`` if it has none).

    A schema that also gives clkhash's own ``xor_folds`` (the same number) is folded by them too.
    """
    config = _clk_config(document)
    count, name = folds(document)
    if name != "xorFolds" or "xor_folds" in config:
        return None
    l_value = int(config.get("l", 0))
    return (
        f"Warning: clkConfig.xorFolds is {count}: the features are hashed into {l_value << count} bits and "
        f"XOR-folded to l = {l_value}, as the linkage schema reference says; clkhash-based tools "
        "(clkhash, anonlink-client 0.1.5 to 0.3.0) ignore xorFolds and make unfolded CLKs from this schema, "
        "which do not link with these"
    )


# --------------------------------------------------------------------------- checks


class _Features:
    """The features of a (converted, v3) schema by identifier: which are hashed, and their missing values."""

    def __init__(self, features: Sequence[Any]) -> None:
        self.hashed: Dict[str, Any] = {}
        self.ignored: Set[str] = set()
        self.twice: Set[str] = set()
        for feature in features:
            if not isinstance(feature, dict) or not isinstance(feature.get("identifier"), str):
                continue
            identifier = feature["identifier"]
            if identifier in self.hashed or identifier in self.ignored:
                self.twice.add(identifier)
            if feature.get("ignored", False):
                self.ignored.add(identifier)
            else:
                self.hashed[identifier] = feature

    def problem(self, identifier: str) -> Optional[str]:
        """Why feature ``identifier`` cannot key a step (``None`` if it can)."""
        if identifier in self.twice:
            return f"feature '{identifier}' is named by more than one feature of the schema"
        if identifier in self.ignored:
            return f"feature '{identifier}' is ignored; the features a step names must be hashed features"
        if identifier not in self.hashed:
            return f"there is no feature '{identifier}'"
        return None

    def missing_value(self, identifier: str) -> Optional[Tuple[str, str]]:
        """``(sentinel, replacement)`` of the feature's missingValue, if it has one."""
        hashing = self.hashed[identifier].get("hashing")
        missing = hashing.get("missingValue") if isinstance(hashing, dict) else None
        if not isinstance(missing, dict) or not isinstance(missing.get("sentinel"), str):
            return None
        replacement = missing.get("replaceWith", "")
        return missing["sentinel"], replacement if isinstance(replacement, str) else ""


def _step_problems(
    entry: Any, index: int, length: int, features: _Features, salted: Dict[str, int]
) -> Tuple[List[str], int]:
    """What is wrong with hardening entry ``index`` given ``length`` bits, and the length it makes."""
    place = f"clkConfig.hardening[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        return [f'{place}: a step is an object with a "type" (one of {", ".join(STEP_TYPES)})'], length
    kind = entry["type"]
    if kind not in PARAMETERS:
        return [f"{place}: unknown step type '{kind}' (the types are {', '.join(STEP_TYPES)})"], length
    place = f"{place} ({kind})"
    parameters = PARAMETERS[kind]
    problems = []
    for name in entry:
        if name != "type" and name not in parameters:
            takes = ", ".join(parameters) if parameters else "no parameters"
            problems.append(f"{place}: unknown parameter '{name}' ({kind} takes {takes})")
    good = set()
    for name, (required, check, expected) in parameters.items():
        if name not in entry:
            if required:
                problems.append(f"{place}: {name} is missing; expected {expected}")
        elif not check(entry[name]):
            problems.append(f"{place}: {name} is {json.dumps(entry[name])}; expected {expected}")
        else:
            good.add(name)
    after = length
    if kind == "balance":
        after = 2 * length
    elif kind == "xorFold" and "folds" in good:
        after = length >> entry["folds"]
        if length % (1 << entry["folds"]):
            problems.append(
                f"{place}: {entry['folds']} folds need a length divisible by {1 << entry['folds']}, "
                f"but the step is given {length} bits"
            )
    elif kind == "rule90" and length < 3:
        problems.append(f"{place}: rule90 needs at least 3 bits, but the step is given {length}")
    elif kind == "rehash" and "window" in good and entry["window"] > length:
        problems.append(f"{place}: window {entry['window']} is longer than the {length} bits the step is given")
    elif kind == "randomizedResponse" and "seedFeatures" in good:
        problems += _feature_list_problems(place, "seedFeatures", entry["seedFeatures"], features)
    elif kind == "salt" and {"saltFeature", "features"} <= good:
        problems += _salt_problems(place, entry, index, features, salted)
    if after > MAX_BITS:
        problems.append(f"{place}: makes {after} bits; a CLK may have at most {MAX_BITS}")
    return problems, after


def _feature_list_problems(place: str, name: str, identifiers: Sequence[str], features: _Features) -> List[str]:
    problems = []
    for position, identifier in enumerate(identifiers):
        if identifier in identifiers[:position]:
            problems.append(f"{place}: {name} lists feature '{identifier}' twice")
            continue
        problem = features.problem(identifier)
        if problem is not None:
            problems.append(f"{place}: {name}: {problem}")
    return problems


def _salt_problems(
    place: str, entry: Dict[str, Any], index: int, features: _Features, salted: Dict[str, int]
) -> List[str]:
    problems = []
    salt_feature = entry["saltFeature"]
    problem = features.problem(salt_feature)
    if problem is not None:
        problems.append(f"{place}: saltFeature: {problem}")
    problems += _feature_list_problems(place, "features", entry["features"], features)
    for identifier in dict.fromkeys(entry["features"]):
        if identifier == salt_feature:
            problems.append(
                f"{place}: feature '{identifier}' is salted by itself; a feature cannot salt its own tokens"
            )
        elif identifier in salted:
            problems.append(
                f"{place}: feature '{identifier}' is salted twice (also by clkConfig.hardening[{salted[identifier]}])"
            )
        else:
            salted[identifier] = index
    return problems


def converted_features(document: Dict[str, Any]) -> List[Any]:
    """The features of a valid schema of any version, as version 3 writes them."""
    from clkhash.schema import convert_to_latest_version

    features: List[Any] = convert_to_latest_version(copy.deepcopy(document))["features"]
    return features


def hardening_problems(document: Dict[str, Any]) -> List[str]:
    """Everything wrong with the folds and the hardening of a schema clkhash accepts, one line each ([] if none)."""
    problem = folds_problem(document)
    if problem is not None:
        return [problem]
    config = _clk_config(document)
    if "hardening" not in config:
        return []
    steps = config["hardening"]
    if not isinstance(steps, list):
        return [f"clkConfig.hardening is {_json_type(steps)}; expected a list of steps"]
    features = _Features(converted_features(document))
    length = config["l"]
    problems: List[str] = []
    salted: Dict[str, int] = {}
    for index, entry in enumerate(steps):
        found, length = _step_problems(entry, index, length, features, salted)
        problems += found
        if length > MAX_BITS:
            break  # the lengths the later steps are given mean nothing
    return problems


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def read_hardening(document: Dict[str, Any]) -> Hardening:
    """The folds and hardening of a schema :func:`hardening_problems` finds nothing wrong with.

    :raises ValueError: if it does find something wrong (the first problem).
    """
    problems = hardening_problems(document)
    if problems:
        raise ValueError(problems[0])
    config = _clk_config(document)
    count, key = folds(document)
    features = _Features(converted_features(document)) if config.get("hardening") else _Features([])
    steps = []
    length = config["l"]
    for index, entry in enumerate(config.get("hardening", [])):
        params = {name: value for name, value in entry.items() if name != "type"}
        kind = entry["type"]
        if kind == "rule90":
            params.setdefault("iterations", 1)
        after = {"balance": 2 * length, "xorFold": length >> params.get("folds", 0)}.get(kind, length)
        if kind == "salt":
            after = length
        if kind in ("randomizedResponse", "salt"):
            names = params["seedFeatures"] if kind == "randomizedResponse" else [params["saltFeature"]]
            missing = {name: features.missing_value(name) for name in names}
            params["missingValues"] = {name: value for name, value in missing.items() if value is not None}
        steps.append(Step(index, kind, params, length, after))
        length = after
    return Hardening(config["l"], count, key, tuple(steps))


def keep_as_written(original: Dict[str, Any], converted: Dict[str, Any]) -> Dict[str, Any]:
    """``converted`` (clkhash's conversion of ``original`` to v3) with ``hardening`` and ``xorFolds`` as written.

    clkhash's conversion from version 1 rebuilds ``clkConfig`` from ``l``, ``kdf`` and
    ``xor_folds`` only, dropping ``hardening`` and ``xorFolds`` (and writing ``xor_folds: 0``
    when the schema gave none); later versions keep every key. Kept as written, they are
    what ``convert-schema`` shows, what ``compare`` compares and what the fingerprint covers.
    """
    before, after = _clk_config(original), converted.get("clkConfig")
    if not isinstance(after, dict):
        return converted
    for name in ("xorFolds", "hardening"):
        if name in before and name not in after:
            after[name] = copy.deepcopy(before[name])
            if name == "xorFolds" and "xor_folds" not in before and after.get("xor_folds") == 0:
                del after["xor_folds"]  # clkhash's default, not the schema's
    return converted


__all__ = [
    "HardenedSchema",
    "hardening_of",
    "Hardening",
    "Step",
    "STEP_TYPES",
    "describe_step",
    "folds",
    "folds_problem",
    "hardening_problems",
    "keep_as_written",
    "read_hardening",
    "xor_folds_warning",
]
