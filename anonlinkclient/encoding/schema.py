"""Loading, validating, converting and comparing linkage schemas (v1, v2, v3).

Validation is clkhash's: a schema is checked against the JSON Schema of its
version that clkhash ships (``clkhash/schemas/vN.json``), then parsed by
:func:`clkhash.schema.from_json_dict`. On top of that, a schema that clkhash
parses but could not hash (whatever the data) is refused too, with the feature
named: see :func:`anonlinkclient.encoding.schema_checks.schema_problem`. Errors are
reported one per line, each with the place in the schema it concerns.
"""

import copy
import difflib
import io
import json
import logging
import pkgutil
from typing import Any, Dict, List, Optional, Tuple

import jsonschema
from clkhash import schema as clkhash_schema
from clkhash.field_formats import spec_from_json_dict

from anonlinkclient.encoding.hardening_schema import (
    HardenedSchema,
    folds,
    folds_problem,
    hardening_problems,
    keep_as_written,
    read_hardening,
    xor_folds_warning,
)
from anonlinkclient.encoding.schema_checks import schema_problem
from anonlinkclient.errors import InvalidSchema, SchemaFileError
from anonlinkclient.io.clk_file import ClkMeta
from anonlinkclient.io.files import (
    MAX_DOCUMENT_BYTES,
    first_line,
    format_size,
    loads_json,
    open_input,
    read_json_document,
)

logger = logging.getLogger(__name__)

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
    problems = hardening_problems(document)  # clkConfig.hardening and xorFolds
    if folds_problem(document) is None:
        schema.xor_folds = folds(document)[0]
    return problems + _hashing_problems(document, schema)


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


def load_linkage_schema(path: str) -> HardenedSchema:
    """Load and validate the linkage schema at ``path`` (any version) as a clkhash Schema.

    Its ``xor_folds`` are the folds the schema asks for, as ``xorFolds`` (which clkhash
    ignores) or as clkhash's ``xor_folds``, and it carries the schema's hardening (see
    :mod:`~.hardening_schema`).

    :raises SchemaFileError: with the first problem found, on one line.
    """
    return linkage_schema(load_schema_document(path))


def warn_about_folds(document: Dict[str, Any]) -> None:
    """Say, in one warning line, that clkhash-based tools ignore the schema's ``xorFolds`` (if it has any)."""
    warning = xor_folds_warning(document)
    if warning is not None:
        logger.warning(warning)


def linkage_schema(document: Dict[str, Any]) -> HardenedSchema:
    """The clkhash Schema of a valid linkage schema document, with its folds (``xorFolds`` too) and hardening."""
    schema = clkhash_schema.from_json_dict(copy.deepcopy(document), validate=False)
    return HardenedSchema(schema, read_hardening(document))


def convert_to_v3(document: Dict[str, Any]) -> Dict[str, Any]:
    """clkhash's conversion of a valid schema to version 3, with ``hardening`` and ``xorFolds`` as written."""
    converted: Dict[str, Any] = clkhash_schema.convert_to_latest_version(copy.deepcopy(document))
    return keep_as_written(document, converted)


def convert_schema(path: str) -> Dict[str, Any]:
    """Return the schema at ``path`` converted to the latest version (v3), validated (hardening kept as written)."""
    return convert_to_v3(load_schema_document(path))


DIFF_FORMATS = ("context", "unified", "ndiff", "html")
#: The formats that diff the files' lines as written, so that their line numbers and context are the files'.
AS_WRITTEN_FORMATS = ("context", "unified")


def comparable_lines(path: str, as_written: bool = False) -> Tuple[List[str], Optional[str]]:
    """The lines :func:`compare_schemas` compares for one schema file, and why they are not converted.

    A valid linkage schema is converted to the latest version; a JSON document that
    is not one is compared as written (not converted); a file that is not JSON is
    compared line by line. JSON is shown as sorted, indented JSON either way, unless
    ``as_written``: then the lines are the file's own, whatever it holds.

    :param as_written: the file's lines as written (as text, with universal newlines).
    :return: the lines, and ``None`` if the schema is valid (and converted unless
        ``as_written``), else a note saying why it is not converted.
    :raises SchemaFileError: if the file cannot be read.
    """
    with open_input(path, "rb", SchemaFileError) as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SchemaFileError(path, f"larger than {format_size(MAX_DOCUMENT_BYTES)}; expected a JSON schema")
    written = _file_lines(data) if as_written else None
    try:
        document = loads_json(data)  # within the JSON limits
    except (UnicodeDecodeError, ValueError) as exc:  # not JSON, or beyond the limits
        not_json = f"{path}: not JSON ({first_line(exc)}); compared line by line"
        return (written if written is not None else _lines(data.decode("utf-8", errors="replace"))), not_json
    problems = schema_errors(document)
    if not problems:
        try:
            document = convert_to_v3(document)
        except (clkhash_schema.SchemaError, ValueError, KeyError, TypeError) as exc:
            problems = [f"cannot be converted ({first_line(exc)})"]
    note = None
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        note = (
            f"{path}: the linkage schema is not valid ({problems[0]}{more}); "
            f"compared as written, not converted to version {LATEST_VERSION}"
        )
    rendered = written if written is not None else _lines(json.dumps(document, indent=2, sort_keys=True))
    return rendered, note


def _lines(text: str) -> List[str]:
    """``text`` as lines that each end with a newline (so that no diff line runs into the next)."""
    return [line + "\n" for line in text.splitlines()]


def _file_lines(data: bytes) -> List[str]:
    """A file's lines as a text file reads them (``\\r\\n`` and ``\\r`` end a line as ``\\n`` does), the
    last one ending with a newline too (so that no diff line runs into the next)."""
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace").readlines()
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def compare_schemas(path_a: str, path_b: str, diff_format: str = "ndiff", lines: int = 3) -> str:
    """Show how two schema files differ, as 0.1.5's ``compare`` did.

    The context (``context``) and unified (``unified``) diffs compare the files'
    lines as written, so that their line numbers and context lines are the files'.
    The others convert what can be converted: valid linkage schemas are converted
    to the latest version first, so that two versions of one encoding compare
    equal; anything else (a schema that does not validate, or not even JSON) is
    compared as written (see :func:`comparable_lines`). Either way, each file that
    is not a valid schema is logged (a warning, one line).

    :param diff_format: ``ndiff`` (default, as in 0.1.5), ``context``, ``unified`` or
        ``html`` (a side-by-side HTML page).
    :param lines: lines of context around each change (context, unified and html).
    :return: the difference; for context and unified diffs, empty if the files are the same.
    """
    as_written = diff_format in AS_WRITTEN_FORMATS
    (a, note_a), (b, note_b) = comparable_lines(path_a, as_written), comparable_lines(path_b, as_written)
    for note in (note_a, note_b):
        if note is not None:
            logger.warning(f"Note: {note}")
    if diff_format == "unified":
        return "".join(difflib.unified_diff(a, b, path_a, path_b, n=lines))
    if diff_format == "ndiff":
        return "".join(difflib.ndiff(a, b))
    if diff_format == "html":
        return difflib.HtmlDiff().make_file(a, b, path_a, path_b, context=True, numlines=lines)
    return "".join(difflib.context_diff(a, b, path_a, path_b, n=lines))


# ---------------------------------------------------------------------------
# Schema fingerprint
# ---------------------------------------------------------------------------

#: How a fingerprint starts: the hash function that made it.
FINGERPRINT_PREFIX = "sha256:"


def canonical_schema(document: Dict[str, Any]) -> bytes:
    """The canonical form of a valid linkage schema (any version): converted to v3, as compact JSON.

    It includes ``clkConfig.hardening`` (salts too) and ``xorFolds`` as written, so the
    fingerprint tells schemas that harden or fold differently apart.

    Keys are sorted, there is no whitespace, strings are UTF-8 (not ``\\u`` escapes)
    and numbers with no fractional part are written as integers (``1.0`` as ``1``),
    so that formatting, key order and v1/v2/v3 spelling do not change it.
    """
    converted = convert_to_v3(document)
    return json.dumps(_canonical_numbers(converted), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _canonical_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(item) for item in value]
    return value


def schema_fingerprint(document: Dict[str, Any]) -> str:
    """The fingerprint of a valid linkage schema: ``sha256:`` and the SHA-256 of its canonical form, in hex.

    Two schemas have the same fingerprint exactly when they are the same schema once
    converted to v3 (see :func:`canonical_schema`); CLK files record it, so that
    parties can check that they hashed with the same schema.
    """
    import hashlib

    return FINGERPRINT_PREFIX + hashlib.sha256(canonical_schema(document)).hexdigest()


def schema_file_fingerprint(path: str) -> str:
    """The fingerprint (see :func:`schema_fingerprint`) of the linkage schema at ``path``.

    :raises SchemaFileError: if the file is missing, not JSON or not a valid schema.
    """
    return schema_fingerprint(load_schema_document(path))


def schema_meta(document: Dict[str, Any]) -> ClkMeta:
    """What a CLK file hashed with a valid linkage schema records about the schema: the CLK length
    (after hardening), the fingerprint, and the XOR folds and hardening steps applied (if any)."""
    hardening = read_hardening(document)
    return ClkMeta(
        clk_bits=hardening.clk_bits,
        schema_fingerprint=schema_fingerprint(document),
        xor_folds=hardening.xor_folds or None,
        hardening=tuple(hardening.summary()) or None,
    )


def schema_meta_if_valid(document: Any) -> Optional[ClkMeta]:
    """:func:`schema_meta` of ``document`` if it is a valid linkage schema (such as a project's), else ``None``."""
    if schema_errors(document):
        return None
    return schema_meta(document)


def fingerprint_if_valid(document: Any) -> str | None:
    """The fingerprint of ``document`` if it is a valid linkage schema (such as a project's), else ``None``."""
    if schema_errors(document):
        return None
    return schema_fingerprint(document)
