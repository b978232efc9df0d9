"""Loading, validating, converting and comparing linkage schemas (v1, v2, v3).

Validation is clkhash's: a schema is checked against the JSON Schema of its
version that clkhash ships (``clkhash/schemas/vN.json``), then parsed by
:func:`clkhash.schema.from_json_dict`. On top of that, a schema that clkhash
parses but could not hash (whatever the data) is refused too, with the feature
named: see :func:`anonlinkclient.encoding.encoder.schema_problem`. Errors are
reported one per line, each with the place in the schema it concerns.
"""

import copy
import difflib
import json
import pkgutil
from typing import Any, Dict, List

import jsonschema
from clkhash import schema as clkhash_schema
from clkhash.field_formats import spec_from_json_dict

from anonlinkclient.encoding.encoder import schema_problem
from anonlinkclient.errors import InvalidSchema, SchemaFileError
from anonlinkclient.io.files import read_json_document

LATEST_VERSION = max(clkhash_schema.MASTER_SCHEMA_FILE_NAMES)


def load_json_document(path: str) -> Any:
    """Read a JSON schema file, raising :class:`SchemaFileError` naming the place of a syntax error."""
    return read_json_document(path, SchemaFileError, "a JSON schema")


def master_schema(version: Any) -> Dict[str, Any]:
    """The JSON Schema clkhash validates linkage schemas of ``version`` against."""
    file_name = clkhash_schema.MASTER_SCHEMA_FILE_NAMES[version]
    data = pkgutil.get_data("clkhash", f"schemas/{file_name}")
    assert data is not None, f"clkhash ships no {file_name}"
    master: Dict[str, Any] = json.loads(data)
    return master


def schema_errors(document: Any) -> List[str]:
    """Every reason ``document`` is not a valid linkage schema, one line each ([] if valid)."""
    if not isinstance(document, dict):
        return [f"the top level is a {type(document).__name__}; a linkage schema is a JSON object"]
    version = document.get("version")
    if "version" not in document:
        return ['no "version"; a linkage schema names its version (1, 2 or 3)']
    if version not in clkhash_schema.MASTER_SCHEMA_FILE_NAMES or isinstance(version, bool):
        supported = ", ".join(str(v) for v in sorted(clkhash_schema.MASTER_SCHEMA_FILE_NAMES))
        return [f"version {version!r} is not supported (supported: {supported})"]
    validator = jsonschema.validators.validator_for(master_schema(version))(master_schema(version))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        return [f"{_place(error.absolute_path)}: {error.message}" for error in errors]
    try:
        schema = clkhash_schema.from_json_dict(copy.deepcopy(document), validate=False)  # it fills in defaults
    except clkhash_schema.SchemaError as exc:
        return [f"features[{error.field_spec_index}]: {error}" for error in exc.errors] or [exc.msg]
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        return [_parse_failure(document, exc)]
    return _hashing_problems(document, schema)


def _parse_failure(document: Dict[str, Any], exc: Exception) -> str:
    """Where clkhash failed to parse a schema that fits its JSON Schema (a feature, or the KDF)."""
    features = clkhash_schema.convert_to_latest_version(copy.deepcopy(document))["features"]
    for index, feature in enumerate(features):
        try:
            spec_from_json_dict(copy.deepcopy(feature))
        except Exception as feature_exc:
            return f"features[{index}] {_name(feature)}: {feature_exc}"
    return f"clkConfig.kdf: {exc}"


def _name(feature: Any) -> str:
    identifier = feature.get("identifier") if isinstance(feature, dict) else None
    return f"'{identifier}'" if isinstance(identifier, str) else "(no identifier)"


def _hashing_problems(document: Dict[str, Any], schema: clkhash_schema.Schema) -> List[str]:
    """What would make hashing fail whatever the data (see :func:`~.encoder.schema_problem`)."""
    problem = schema_problem(schema)
    if problem is None:
        return []
    feature, reason = problem
    if feature is None:
        return [f"clkConfig: {reason}"]
    index = next(i for i, field in enumerate(schema.fields) if field.identifier == feature)
    return [f"features[{index}] '{feature}': {reason}"]


def _place(path: Any) -> str:
    place = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return place or "top level"


def load_schema_document(path: str) -> Dict[str, Any]:
    """Read and validate the linkage schema at ``path`` (any version), as JSON.

    This is the one loader every command that reads a linkage schema uses.

    :raises SchemaFileError: if the file is missing or not JSON.
    :raises InvalidSchema: listing every problem (the message shows the first).
    """
    document = load_json_document(path)
    problems = schema_errors(document)
    if problems:
        raise InvalidSchema(path, "linkage", problems)
    valid: Dict[str, Any] = document
    return valid


def load_linkage_schema(path: str) -> clkhash_schema.Schema:
    """Load and validate the linkage schema at ``path`` (any version) as a clkhash Schema.

    :raises SchemaFileError: with the first problem found, on one line.
    """
    return clkhash_schema.from_json_dict(load_schema_document(path), validate=False)


def convert_schema(path: str) -> Dict[str, Any]:
    """Return the schema at ``path`` converted to the latest version (v3), validated."""
    converted: Dict[str, Any] = clkhash_schema.convert_to_latest_version(copy.deepcopy(load_schema_document(path)))
    return converted


DIFF_FORMATS = ("context", "unified", "ndiff", "html")


def compare_schemas(path_a: str, path_b: str, diff_format: str = "context", lines: int = 3) -> str:
    """Show how two linkage schemas differ once both are converted to the latest version.

    Both are written as sorted, indented JSON and compared line by line.

    :param diff_format: ``context`` (default), ``unified``, ``ndiff`` or ``html``
        (a side-by-side HTML page).
    :param lines: lines of context around each change.
    :return: the difference; empty if the schemas are equivalent (except for ndiff/html).
    """
    a, b = (json.dumps(convert_schema(p), indent=2, sort_keys=True).splitlines(keepends=True) for p in (path_a, path_b))
    if diff_format == "unified":
        return "".join(difflib.unified_diff(a, b, path_a, path_b, n=lines))
    if diff_format == "ndiff":
        return "".join(difflib.ndiff(a, b))
    if diff_format == "html":
        return difflib.HtmlDiff().make_file(a, b, path_a, path_b, context=True, numlines=lines)
    return "".join(difflib.context_diff(a, b, path_a, path_b, n=lines))
