"""Dates formatted as clkhash formats them (``%Y%m%d``), a column at a time: :class:`DateFormatter`.

A column of fixed-width dates is read with NumPy (:class:`FastDate`); the rest go through
strptime once per distinct text.
"""

import re
from datetime import datetime
from typing import Dict, List, Optional, Tuple

import numpy as np

from anonlinkclient.encoding.caches import MAX_CACHE_ENTRIES

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


class FastDate:
    """Parses dates of a fixed-width all-digit form (e.g. ``%Y/%m/%d``) in bulk, without strptime.

    Only texts that strptime certainly parses the same way are handled (four ASCII digits for
    %Y, two for %m and %d, the literal separators of the format, a real date in year 1000 or
    later): strptime's %Y matches exactly four digits, and for a two-digit month or day it
    tries the two-digit alternatives first. Everything else is left to strptime.
    """

    def __init__(self, width: int, digits: Dict[str, List[int]], literals: List[Tuple[int, int]]) -> None:
        self.width = width
        self.year, self.month, self.day = digits["Y"], digits["m"], digits["d"]
        self.digit_at = np.array(self.year + self.month + self.day, dtype=np.int64)
        self.literal_at = np.array([at for at, _ in literals], dtype=np.int64)
        self.literal_code = np.array([code for _, code in literals], dtype=np.uint32)

    @classmethod
    def compile(cls, date_format: str) -> Optional["FastDate"]:
        """A parser for ``date_format``, or ``None`` if it is not of the simple form."""
        parts = re.findall(r"%.|[^%]+", date_format)
        if "".join(parts) != date_format:
            return None
        if sorted(p for p in parts if p.startswith("%")) != ["%Y", "%d", "%m"]:
            return None
        width = 0
        digits: Dict[str, List[int]] = {}
        literals: List[Tuple[int, int]] = []
        for part in parts:
            if part.startswith("%"):
                size = 4 if part == "%Y" else 2
                digits[part[1]] = list(range(width, width + size))
                width += size
                continue
            if any(c.isalnum() or c.isspace() or not c.isascii() or c == "%" for c in part):
                return None  # strptime matches letters ignoring case and spaces as \s+
            for c in part:
                literals.append((width, ord(c)))
                width += 1
        return cls(width, digits, literals)

    def parse(self, values: List[str]) -> List[Optional[str]]:
        """``%Y%m%d`` of each value, or ``None`` where it is not of the simple form."""
        count = len(values)
        width = self.width
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=count)
        points = np.array(values, dtype=f"<U{width}").view(np.uint32).reshape(count, width)
        ok = lengths == width
        if len(self.literal_at):
            ok &= (points[:, self.literal_at] == self.literal_code).all(axis=1)
        digit_points = points[:, self.digit_at]
        ok &= ((digit_points >= 48) & (digit_points <= 57)).all(axis=1)
        number = digit_points.astype(np.int64) - 48
        year = number[:, 0] * 1000 + number[:, 1] * 100 + number[:, 2] * 10 + number[:, 3]
        month = number[:, 4] * 10 + number[:, 5]
        day = number[:, 6] * 10 + number[:, 7]
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
        ok &= (year >= 1000) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
        text = np.ascontiguousarray(digit_points).view("<U8").ravel().tolist()
        if ok.all():
            return text
        return [t if good else None for t, good in zip(text, ok.tolist())]


class DateFormatter:
    """Formats dates of one feature's format as ``%Y%m%d``, as clkhash does (``None``: strptime fails)."""

    def __init__(self, date_format: str) -> None:
        self.date_format = date_format
        self.fast = FastDate.compile(date_format)
        self.known: Dict[str, Optional[str]] = {}

    def format(self, values: List[str]) -> List[Optional[str]]:
        """``%Y%m%d`` of each date, ``None`` where strptime fails."""
        out: List[Optional[str]]
        if self.fast is not None:
            out = self.fast.parse(values)
            if None not in out:
                return out
        else:
            out = [None] * len(values)
        known = self.known
        for i, value in enumerate(values):
            if out[i] is not None:
                continue
            try:
                out[i] = known[value]
                continue
            except KeyError:
                pass
            try:
                formatted: Optional[str] = datetime.strptime(value, self.date_format).strftime("%Y%m%d")
            except ValueError:
                formatted = None
            out[i] = formatted
            if len(value) <= 64:  # dates are short; long texts are not worth keeping
                if len(known) >= MAX_CACHE_ENTRIES:
                    known.clear()
                known[value] = formatted
        return out
