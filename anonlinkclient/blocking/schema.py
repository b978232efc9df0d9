"""Blocking schemas: loading, checking and preparing them for blocklib.

A blocking schema names a method (``p-sig`` or ``lambda-fold``), the schema
version (1) and the method's ``config``. It is checked against the JSON Schema
``blocking-schema.json`` that ships in :mod:`anonlinkclient.schemas` (the
top-level ``schemas/`` directory of the source), then against the rules JSON
Schema cannot express (a filter's ``min`` above its ``max``, a slice that ends
before it starts...). Every problem is reported with its place in the schema,
for example ``config.signatureSpecs[0][1].feature``.

The manual's p-sig schemas name a signature's column with ``feature-idx``;
current blocklib calls it ``feature``. Both are accepted:
:func:`load_blocking_schema` returns the schema with ``feature`` only.
"""

import copy
import difflib
import functools
import importlib.resources
import json
from typing import IO, Any, Dict, Iterator, List, Sequence, Tuple, Union

import jsonschema

from anonlinkclient.errors import AnonlinkClientError, InvalidSchema, SchemaFileError
from anonlinkclient.io.files import read_json_document, source_name

SCHEMA_PACKAGE = "anonlinkclient.schemas"
SCHEMA_RESOURCE = "blocking-schema.json"
MAX_REPORTED_PROBLEMS = 3

SchemaSource = Union[str, IO[str], IO[bytes]]  # a path, or an open schema file


def _schema_text() -> str:
    # Installed (wheel, frozen executable) the file is in the anonlinkclient/schemas/
    # directory; in a source checkout (editable install) anonlinkclient.schemas is the
    # top-level schemas/ directory, mapped by setup.py's package_dir.
    package, _, directory = SCHEMA_PACKAGE.rpartition(".")
    try:
        return (
            importlib.resources.files(package).joinpath(directory).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
        )
    except (ImportError, OSError):
        pass
    try:
        return importlib.resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    except (ImportError, OSError) as exc:
        raise AnonlinkClientError(
            f"this installation of anonlink-client lacks {SCHEMA_PACKAGE}/{SCHEMA_RESOURCE}; reinstall it"
        ) from exc


@functools.lru_cache(maxsize=1)
def blocking_json_schema() -> Dict[str, Any]:
    """The JSON Schema every blocking schema must satisfy (``schemas/blocking-schema.json``).

    :raises AnonlinkClientError: if the installation lacks it.
    """
    schema: Dict[str, Any] = json.loads(_schema_text())
    return schema


def blocking_schema_errors(document: Any) -> List[str]:
    """Every reason ``document`` is not a usable blocking schema, one line each ([] if it is).

    :param document: the blocking schema, as parsed from JSON.
    """
    if not isinstance(document, dict):
        return [f"the top level is {_json_type(document)}; a blocking schema is a JSON object"]
    validator_class = jsonschema.validators.validator_for(blocking_json_schema())
    validator = validator_class(blocking_json_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    messages = _unique(f"{_place(error.absolute_path)}: {_message(error)}" for error in errors)
    if messages:
        return messages
    return list(_rule_errors(document))


def load_blocking_schema(source: SchemaSource) -> Dict[str, Any]:
    """Read and check a blocking schema; return it ready for blocklib.

    :param source: the schema file's path, or the file opened for reading.
    :return: the schema as a dict, with every older ``feature-idx`` written as ``feature``.
    :raises SchemaFileError: naming the file and the first problems found, on one line.
    """
    document = read_json_document(source, SchemaFileError, "a JSON blocking schema")
    problems = blocking_schema_errors(document)
    if problems:
        raise InvalidSchema(source_name(source), "blocking", problems, shown=MAX_REPORTED_PROBLEMS)
    return with_feature_names(document)


def with_feature_names(document: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a p-sig schema with the older ``feature-idx`` of each signature spec renamed ``feature``.

    Other schemas are returned as an unchanged copy.
    """
    converted = copy.deepcopy(document)
    for _, spec in signature_specs(converted):
        if "feature-idx" in spec:
            spec["feature"] = spec.pop("feature-idx")
    return converted


def signature_specs(document: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yield ``(place, spec)`` for every signature spec of a p-sig schema (none for other methods)."""
    if document.get("type") != "p-sig":
        return
    for i, strategy in enumerate(document.get("config", {}).get("signatureSpecs", [])):
        for j, spec in enumerate(strategy):
            yield f"config.signatureSpecs[{i}][{j}]", spec


def _rule_errors(document: Dict[str, Any]) -> Iterator[str]:
    """Problems that the JSON Schema cannot express; ``document`` already satisfies it."""
    config = document["config"]
    if document["type"] == "lambda-fold":
        if not config["input-clks"] and config["K"] > config["bf-len"]:
            yield (
                f"config.K: {config['K']} bits cannot be sampled from a Bloom filter of "
                f"config.bf-len {config['bf-len']} bits"
            )
        return
    low, high = config["filter"].get("min", 0), config["filter"]["max"]
    if low > high:
        yield f"config.filter: min ({low}) is greater than max ({high}), so every block would be dropped"
    names_columns = isinstance(config["blocking-features"][0], str)
    for place, spec in signature_specs(document):
        if isinstance(spec.get("feature"), str) and not names_columns:
            yield (
                f"{place}.feature: names the column {json.dumps(spec['feature'])}, but config.blocking-features "
                "gives column numbers; column names need blocking-features to be names too"
            )
        for k, pos in enumerate(spec.get("config", {}).get("pos", [])):
            start, _, end = str(pos).partition(":")
            if start and end and int(start) >= int(end):
                yield f"{place}.config.pos[{k}]: the slice {json.dumps(pos)} ends before it starts"


def _message(error: jsonschema.ValidationError) -> str:
    """The user's message for one JSON Schema error."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"{', '.join(json.dumps(name) for name in missing)} {'is' if len(missing) == 1 else 'are'} missing"
    if error.validator == "additionalProperties":
        return _unknown_keys(error.instance, schema.get("properties", {}))
    if "errorMessage" in schema:
        return str(schema["errorMessage"])
    if error.validator == "type":
        return f"must be {_a(error.validator_value)}, not {_json_type(error.instance)}"
    return error.message


def _unknown_keys(instance: Dict[str, Any], allowed: Sequence[str]) -> str:
    parts = []
    for key in instance:
        if key not in allowed:
            close = difflib.get_close_matches(key, list(allowed), n=1)
            parts.append(f"{json.dumps(key)}" + (f" (did you mean {json.dumps(close[0])}?)" if close else ""))
    allowed_text = ", ".join(json.dumps(key) for key in allowed)
    return f"unknown {'key' if len(parts) == 1 else 'keys'} {', '.join(parts)}; allowed here: {allowed_text}"


def _a(types: Union[str, List[str]]) -> str:
    names = {"integer": "a whole number", "number": "a number", "string": "a string", "boolean": "true or false"}
    names.update({"array": "a list", "object": "an object"})
    wanted = [types] if isinstance(types, str) else types
    return " or ".join(names.get(t, t) for t in wanted)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    return "a list" if isinstance(value, list) else "an object"


def _place(path: Any) -> str:
    place = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return place or "top level"


def _unique(lines: Iterator[str]) -> List[str]:
    return list(dict.fromkeys(lines))
