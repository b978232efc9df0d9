"""The ``describe`` report: an ASCII histogram of CLK popcounts and a summary box.

Popcounts are counted while the CLK file streams past, so only one integer per
distinct popcount is kept, however large the file.
"""

import math
from collections import Counter
from typing import Iterable, List, Optional, Tuple

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.clk_file import no_metadata_note, open_clk_file

PLOT_HEIGHT = 20
MAX_BINS = 60


class PopcountSummary:
    """Popcount counts of a set of CLKs.

    :ivar counts: how many CLKs have each popcount.
    """

    def __init__(self, clks: Iterable[bytes]) -> None:
        self.counts: Counter[int] = Counter(int.from_bytes(clk, "big").bit_count() for clk in clks)

    @property
    def observations(self) -> int:
        """The number of CLKs."""
        return sum(self.counts.values())

    @property
    def mean(self) -> float:
        """The mean popcount."""
        return sum(value * n for value, n in self.counts.items()) / self.observations

    def histogram(self) -> List[str]:
        """The lines of an ASCII histogram, one column per bin, 'o' where a bin reaches a level."""
        low, high = min(self.counts), max(self.counts)
        n_bins = min(high - low + 1, MAX_BINS)
        width = (high - low + 1) / n_bins
        bins = [0] * n_bins
        for value, n in self.counts.items():
            bins[min(int((value - low) / width), n_bins - 1)] += n
        top = max(bins)
        levels = [top - (top - 1) * i / (PLOT_HEIGHT - 1) for i in range(PLOT_HEIGHT)]
        label_width = len(str(top))
        lines = [" " * (label_width + 2) + "popcounts".center(n_bins)]
        for level in levels:
            row = "".join("o" if b >= level and b > 0 else " " for b in bins)
            lines.append(f"{math.ceil(level):>{label_width}}| {row.rstrip()}")
        lines.append(" " * label_width + " +" + "-" * n_bins)
        axis = f"{low}".ljust(n_bins - len(str(high))) + f"{high}" if n_bins > 1 else f"{low}"
        lines.append(" " * (label_width + 2) + axis)
        return lines

    def summary(self) -> List[str]:
        """The summary box: observations, min, mean and max popcount."""
        rows = [
            f"observations: {self.observations}",
            f"min value: {min(self.counts):f}",
            f"mean : {self.mean:f}",
            f"max value: {max(self.counts):f}",
        ]
        inner = max(len(r) for r in rows) + 4
        rule = "-" * (inner + 2)
        return [rule, "|" + "Summary".center(inner) + "|", rule] + ["|" + r.center(inner) + "|" for r in rows] + [rule]


def describe_clks(clks: Iterable[bytes], path: str) -> str:
    """The full ``describe`` report for the CLKs read from ``path``.

    :raises InputFileError: if there are no CLKs.
    """
    summary = PopcountSummary(clks)
    if not summary.counts:
        raise InputFileError(path, "contains no CLKs")
    return "\n".join(summary.histogram() + [""] + summary.summary())


def describe_clk_file(path: str, raw_size: Optional[int] = None) -> Tuple[str, List[str]]:
    """The ``describe`` report of a CLK file (JSON or binary) and the notes to show beside it.

    The report ends with what the file records about how it was made (see
    :class:`~anonlinkclient.io.clk_file.ClkMeta`); a file that records no schema
    fingerprint or secret check value gets a note saying they cannot be checked.

    :param raw_size: the file is headerless binary with CLKs of this many bytes.
    :return: ``(report, notes)``.
    :raises InputFileError: if the file is unusable or has no CLKs.
    """
    with open_clk_file(path, raw_size) as clk_file:
        report = describe_clks(clk_file, path)
        info = clk_file.info
    lines = info.meta.lines() if info.meta is not None else []
    report = "\n".join([report, ""] + lines) if lines else report
    return report, [] if info.checkable else [no_metadata_note(path)]
