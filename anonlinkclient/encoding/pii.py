"""The PII a linkage schema reads, from wherever it lives: one record source per input, its columns chosen.

:func:`open_pii` is what ``hash`` (and anything else that reads PII for a linkage
schema, such as the audit) opens:

* a CSV is read by position, as always: one column per feature, the header checked
  against the schema (or skipped, or absent);
* a typed source (Parquet, Excel, a database, a DataFrame), or a CSV given a column
  mapping, is read by name: each feature's column is the one of the same name (or the
  one :func:`parse_column_mapping` maps it to), and its typed values become the text the
  feature expects (its date format, its missing-value sentinel; :mod:`anonlinkclient.io.typed`).
  An ignored feature's column may be absent.
"""

from typing import Any, Dict, List, Optional, Union

from clkhash.field_formats import DateSpec, FieldSpec, Ignore
from clkhash.schema import Schema
from clkhash.validate_data import FormatError, validate_header

from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.frame_records import FrameSource
from anonlinkclient.io.records import Column, RecordSource
from anonlinkclient.io.sources import is_typed, open_source

HeaderMode = Union[bool, str]  # True: check it, "ignore": skip it, False: no header
ColumnMapping = Dict[str, str]  # feature identifier -> the source's column


def parse_column_mapping(text: str) -> ColumnMapping:
    """``"dob=birth_date,name=full_name"`` as ``{"dob": "birth_date", "name": "full_name"}``.

    :raises UsageError: for a part that is not ``feature=column``, or a feature given twice.
    """
    mapping: ColumnMapping = {}
    for part in text.split(","):
        feature, equals, column = (piece.strip() for piece in part.partition("="))
        if not equals or not feature or not column:
            raise UsageError(f"the column mapping {part.strip()!r} is not feature=column", "columns")
        if feature in mapping:
            raise UsageError(f"the column mapping names the feature {feature!r} twice", "columns")
        mapping[feature] = column
    return mapping


def _missing_text(field: FieldSpec) -> str:
    properties = field.hashing_properties
    if properties is not None and properties.missing_value is not None:
        return str(properties.missing_value.sentinel)
    return ""


def schema_columns(schema: Schema, mapping: Optional[ColumnMapping] = None) -> List[Column]:
    """The columns a schema's features read, in its order: each feature's name (or mapped column), date format
    and missing-value sentinel; an ignored feature's column need not exist.

    :raises UsageError: if the mapping names a feature the schema does not have.
    """
    mapping = mapping or {}
    identifiers = [field.identifier for field in schema.fields]
    unknown = [feature for feature in mapping if feature not in identifiers]
    if unknown:
        raise UsageError(
            f"the column mapping names {', '.join(unknown)}, which the linkage schema does not have "
            f"(its features: {', '.join(identifiers)})",
            "columns",
        )
    return [
        Column(
            mapping.get(field.identifier, field.identifier),
            date_format=field.format if isinstance(field, DateSpec) else None,
            missing=_missing_text(field),
            required=not isinstance(field, Ignore),
        )
        for field in schema.fields
    ]


def check_header(source: RecordSource, schema: Schema) -> None:
    """Check a CSV's column names against the schema's features, as clkhash does.

    :raises InputFileError: naming the source's first row, if they differ.
    """
    if source.columns is None:
        return
    try:
        validate_header(schema.fields, source.columns)
    except FormatError as exc:
        raise InputFileError(source.name, f"header does not match the schema: {exc}", row=1) from None


def select_features(source: RecordSource, schema: Schema, mapping: Optional[ColumnMapping] = None) -> RecordSource:
    """Have ``source`` read the schema's features by name (closing it if it cannot); return it."""
    try:
        source.select(schema_columns(schema, mapping))
    except BaseException:
        source.close()
        raise
    source.renamed = {feature: column for feature, column in (mapping or {}).items()}
    return source


def open_pii(
    argument: Union[str, Any],
    schema: Schema,
    header: HeaderMode = True,
    input_format: Optional[str] = None,
    table: Optional[str] = None,
    query: Optional[str] = None,
    sheet: Optional[str] = None,
    columns: Optional[ColumnMapping] = None,
    progress: bool = False,
) -> RecordSource:
    """Open the PII a linkage schema reads (see the module docstring); close it when done.

    :param argument: a file path, a database URL, or a DataFrame.
    :param header: for a CSV read by position: ``True`` to check the header against the
        schema, ``"ignore"`` to skip it unchecked, ``False`` if there is none.
    :param input_format: ``csv``, ``parquet``, ``xlsx`` or ``sql`` instead of guessing it.
    :param table: / :param query: the table to read, or the query to run (databases).
    :param sheet: the workbook's sheet (default: the first).
    :param columns: feature -> column, for columns not named as the features.
    :param progress: count a CSV's lines first, for a progress bar.
    :raises InputFileError: if the source cannot be opened, or lacks a feature's column.
    :raises UsageError: for options that do not fit the source.
    """
    if header not in (True, False, "ignore"):
        raise ValueError(f"header must be True, False or 'ignore', not {header!r}")
    if not isinstance(argument, str):
        return select_features(FrameSource(argument), schema, columns)
    if is_typed(argument, input_format) or columns:
        source = open_source(argument, input_format, bool(header), None, table, query, sheet, count=progress)
        return select_features(source, schema, columns)
    source = open_source(argument, input_format, bool(header), len(schema.fields), table, query, sheet, progress)
    if header is True:
        try:
            check_header(source, schema)
        except BaseException:
            source.close()
            raise
    return source
