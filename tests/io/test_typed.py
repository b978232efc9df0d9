"""The typing rules, value by value, and the Arrow fast paths that must agree with them."""

import datetime
import decimal
import uuid
from typing import Any, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonlinkclient.io.records import Column
from anonlinkclient.io.typed import ArrowText, column_texts, text_of, why_refused

DATE = Column("dob", date_format="%d/%m/%Y", missing="N/A")
PLAIN = Column("x")


@pytest.mark.parametrize(
    "value, column, text",
    [
        (None, DATE, "N/A"),
        (None, PLAIN, ""),
        ("Zoë", PLAIN, "Zoë"),
        (-42, PLAIN, "-42"),
        (3.0, PLAIN, "3"),
        (-0.0, PLAIN, "0"),
        (decimal.Decimal("12.000"), PLAIN, "12"),
        (datetime.date(999, 1, 2), DATE, "02/01/0999"),
        (datetime.datetime(1990, 1, 2, 13, 45), DATE, "02/01/1990"),
        (datetime.date(1990, 1, 2), PLAIN, "1990-01-02"),
        (datetime.datetime(1990, 1, 2, 13, 45), PLAIN, "1990-01-02 13:45:00"),
        (uuid.UUID(int=5), PLAIN, "00000000-0000-0000-0000-000000000005"),
    ],
)
def test_values_become_the_text_a_careful_export_holds(value: Any, column: Column, text: str) -> None:
    assert text_of(value, column) == text


@pytest.mark.parametrize(
    "value, reason",
    [
        (1.5, "holds a number with a fractional part, which the schema's text cannot hold exactly"),
        (decimal.Decimal("0.1"), "holds a number with a fractional part, which the schema's text cannot hold exactly"),
        (float("nan"), "holds NaN or an infinite number"),
        (float("inf"), "holds NaN or an infinite number"),
        (b"abc", "holds bytes, not text"),
        (True, "holds a true/false value, which has no agreed text; turn it into text first"),
        (datetime.time(12, 0), "holds a time value, which has no text the schema could read"),
        ([1, 2], "holds a list value, which has no text the schema could read"),
    ],
)
def test_values_without_an_exact_text_are_refused_without_showing_them(value: Any, reason: str) -> None:
    assert text_of(value, PLAIN) is None
    assert why_refused(value) == reason


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["string", "int64", "date32"]).flatmap(lambda kind: st.tuples(st.just(kind), st.lists(
    {"string": st.one_of(st.none(), st.text(max_size=5)), "int64": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
     "date32": st.one_of(st.none(), st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31)))}[kind],
    max_size=20))))  # fmt: skip
def test_arrow_columns_give_the_texts_of_the_values(example: Any) -> None:
    import pyarrow as pa

    kind, values = example
    array = pa.array(values, type=getattr(pa, kind)())
    converter = ArrowText([DATE], ["dob"])
    piece = converter.piece([array], len(values))
    expected: List[Optional[str]] = column_texts(values, DATE)[0]
    assert piece.columns == [expected]
    assert [row[0] for row in piece.read()[0]] == expected
    # a dictionary-encoded column (pandas' categoricals) gives the same
    assert converter.piece([array.dictionary_encode()], len(values)).columns == [expected]


def test_arrow_columns_of_other_types_are_taken_value_by_value() -> None:
    import pyarrow as pa

    piece = ArrowText([PLAIN], ["weight"]).piece([pa.array([1.0, None, 2.5, 3.0])], 4)
    rows, failure = piece.read()
    assert rows == [("1",), ("",)]
    assert failure is not None and (failure.offset, failure.column) == (2, "weight")
