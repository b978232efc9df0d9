"""The block report: how big the blocks of a block file are, and which records they miss.

Blocking trades comparisons for missed matches: records that share no block are
never compared, and one huge block costs as many comparisons as no blocking.
From a block file written by ``anonlink block`` the report shows the
distribution of block sizes (records per block, in bins that double in width
when the sizes vary widely), where the records are (in blocks of which size),
how many blocks each record is in (0: in no block, never compared) and the
biggest blocks.
"""

import collections
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from anonlinkclient.errors import InputFileError
from anonlinkclient.io.block_file import BlockFileReader, BlockId
from anonlinkclient.report import svg
from anonlinkclient.report.colours import COLOURS
from anonlinkclient.report.page import Page, Report, Table, check_report_outputs

BIGGEST = 10
EXACT_SIZES = 24  # up to this size, one bar per size


@dataclass
class BlockStats:
    """What a block file holds.

    :ivar path: the file.
    :ivar records: the number of records blocked (from the file's ``meta``), or
        ``None`` if the file does not say.
    :ivar sizes: the number of records of each block, keyed by block id.
    :ivar memberships: how many records are in 1, 2, ... blocks (key: number of blocks).
    :ivar highest_record: the highest record index with an entry (-1 if none).
    """

    path: str
    records: Optional[int]
    sizes: Dict[BlockId, int]
    memberships: Dict[int, int]
    highest_record: int

    @property
    def records_known(self) -> int:
        """The number of records: as the file says, or the records that have an entry."""
        if self.records is not None:
            return self.records
        return self.highest_record + 1

    @property
    def in_no_block(self) -> int:
        """Records in no block."""
        return self.records_known - sum(count for blocks, count in self.memberships.items() if blocks > 0)

    def size_array(self) -> np.ndarray:
        """The block sizes as an array."""
        return np.fromiter(self.sizes.values(), dtype=np.int64, count=len(self.sizes))

    def biggest(self, count: int = BIGGEST) -> List[Tuple[BlockId, int]]:
        """The ``count`` biggest blocks, biggest first (ties in block-id order of first appearance)."""
        return sorted(self.sizes.items(), key=lambda item: -item[1])[:count]


def read_blocks(path: str) -> BlockStats:
    """Count the blocks and memberships of a block file, streaming it.

    :raises InputFileError: if it is not a block file, has no blocks, or
        has entries for records beyond the number it says it blocked.
    """
    sizes: Dict[BlockId, int] = collections.defaultdict(int)
    memberships: Dict[int, int] = collections.defaultdict(int)
    highest = -1
    reader = BlockFileReader(path)
    for record, blocks in reader.entries():
        highest = max(highest, record)
        distinct = set(blocks)
        memberships[len(distinct)] += 1
        for block in distinct:
            sizes[block] += 1
    records = reader.declared_count
    if records is not None and highest >= records:
        raise InputFileError(path, f"has blocks for record {highest}, but its meta says {records} records were blocked")
    if not sizes:
        raise InputFileError(path, "has no blocks (no record is in a block), so there is nothing to report")
    return BlockStats(path, records, dict(sizes), dict(memberships), highest)


def size_bins(largest: int) -> List[Tuple[int, int]]:
    """Bins ``(smallest, largest)`` of block sizes: one per size up to 24, else doubling: 1, 2–3, 4–7, ..."""
    if largest <= EXACT_SIZES:
        return [(size, size) for size in range(1, largest + 1)]
    bins = []
    low = 1
    while low <= largest:
        bins.append((low, 2 * low - 1))
        low *= 2
    return bins


def _bin_label(low: int, high: int) -> str:
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def _log_needed(counts: Sequence[int]) -> bool:
    positive = [count for count in counts if count > 0]
    return bool(positive) and max(positive) / min(positive) >= 50


@dataclass
class BlockReport(Report):
    """The block report of a block file: charts, tables and the HTML page."""

    stats: BlockStats
    svg_id = "block-report"
    title: str = "Block sizes"
    charts: List[svg.Chart] = field(default_factory=list)

    def __post_init__(self) -> None:
        sizes = self.stats.size_array()
        self.bins = size_bins(int(sizes.max()))
        lows = np.array([low for low, _high in self.bins])
        index = np.searchsorted(lows, sizes, side="right") - 1
        self.blocks_per_bin = np.bincount(index, minlength=len(self.bins))
        self.records_per_bin = np.bincount(index, weights=sizes, minlength=len(self.bins)).astype(np.int64)
        self.charts = [self.size_chart(), self.records_chart(), self.membership_chart()]

    def _categorical(
        self,
        chart_id: str,
        title: str,
        description: str,
        x_label: str,
        y_label: str,
        labels: Sequence[str],
        counts: Sequence[int],
    ) -> Tuple[svg.Chart, bool]:
        log = _log_needed(counts)
        top = max(max(counts), 1)
        every = max(1, -(-len(labels) // 16))
        ticks = [(index + 0.5, label) for index, label in enumerate(labels) if index % every == 0]
        chart = svg.Chart(
            chart_id,
            title,
            description,
            x_label,
            y_label + (" (log scale)" if log else ""),
            (0.0, float(len(labels))),
            svg.log_range(top) if log else (0.0, top * 1.12),
            y_log=log,
            x_format="count",
            x_labels=ticks,
        )
        return chart, log

    def _per_size_chart(
        self, chart_id: str, title: str, summary: str, y_label: str, counts: Sequence[int], series: str, role: str
    ) -> svg.Chart:
        """Bars of ``counts``, one per size bin, in the colour of ``role``, which also says what they count."""
        labels = [_bin_label(low, high) for low, high in self.bins]
        chart, _log = self._categorical(
            chart_id,
            title,
            summary + ", ".join(f"{label}: {count:,}" for label, count in zip(labels, counts) if count),
            "records in the block" + (" (bins double in width)" if self.bins[-1][0] != self.bins[-1][1] else ""),
            y_label,
            labels,
            counts,
        )
        edges = list(range(len(labels) + 1))
        tips = [f"{role} of {label} records: {count:,}" for label, count in zip(labels, counts)]
        chart.bars(edges, counts, COLOURS[role], series, series, 0.9, tips=tips, keys=labels, gap=3)
        return chart

    def size_chart(self) -> svg.Chart:
        """Number of blocks of each size."""
        return self._per_size_chart(
            "block-sizes",
            "How big are the blocks?",
            f"Number of blocks of each size (records per block), {len(self.stats.sizes):,} blocks in all: ",
            "number of blocks",
            self.blocks_per_bin.tolist(),
            "blocks",
            "blocks",
        )

    def records_chart(self) -> svg.Chart:
        """Memberships of records in blocks of each size."""
        return self._per_size_chart(
            "records-by-block-size",
            "Where are the records?",
            "Records in blocks of each size (a record in several blocks counts once for each): ",
            "records in blocks of this size",
            self.records_per_bin.tolist(),
            "records",
            "records in blocks",
        )

    def membership_chart(self) -> svg.Chart:
        """How many blocks each record is in (0 highlighted: never compared)."""
        stats = self.stats
        most = max(stats.memberships)
        if most <= 30:
            groups = [(count, count) for count in range(0, most + 1)]
        else:
            groups = [(0, 0)] + size_bins(most)
        counts = []
        for low, high in groups:
            if low == 0:
                counts.append(stats.in_no_block)
            else:
                counts.append(sum(n for blocks, n in stats.memberships.items() if low <= blocks <= high))
        labels = [_bin_label(low, high) for low, high in groups]
        chart, _log = self._categorical(
            "blocks-per-record",
            "How many blocks is each record in?",
            f"Records by the number of blocks they are in; {stats.in_no_block:,} of {stats.records_known:,} "
            "records are in no block: "
            + ", ".join(f"{label}: {count:,}" for label, count in zip(labels, counts) if count),
            "blocks the record is in",
            "number of records",
            labels,
            counts,
        )
        edges = list(range(len(labels) + 1))
        tips = [f"records in {label} blocks: {count:,}" for label, count in zip(labels, counts)]
        none = [counts[0]] + [0] * (len(counts) - 1)
        some = [0] + counts[1:]
        chart.bars(edges, some, COLOURS["blocked records"], "records", "records", 0.9, tips=tips, keys=labels, gap=3)
        chart.bars(
            edges,
            none,
            COLOURS["unblocked records"],
            "no-block",
            f"in no block (never compared): {stats.in_no_block:,}",
            0.9,
            tips=tips,
            keys=labels,
            gap=3,
        )
        return chart

    def summary(self) -> List[Tuple[str, str]]:
        """Facts about the blocks, as ``(name, value)`` pairs."""
        stats = self.stats
        sizes = self.stats.size_array()
        records = stats.records_known
        memberships = sum(blocks * count for blocks, count in stats.memberships.items())
        in_some = records - stats.in_no_block
        facts = [
            ("Block file", stats.path),
            (
                "Records",
                f"{records:,}" if stats.records is not None else f"at least {records:,} (the file does not say)",
            ),
            ("Blocks", f"{len(sizes):,}"),
            (
                "Records in no block",
                f"{stats.in_no_block:,} ({stats.in_no_block / records:.1%})" if records else "0",
            ),
            (
                "Block size",
                f"smallest {sizes.min():,}, median {np.median(sizes):g}, mean {sizes.mean():.2f}, "
                f"largest {sizes.max():,}",
            ),
            ("Blocks per record", f"mean {memberships / in_some:.2f} (of records in some block)" if in_some else "–"),
        ]
        return facts

    def biggest_table(self) -> Table:
        """The biggest blocks."""
        stats = self.stats
        records = stats.records_known
        rows = []
        for rank, (block, size) in enumerate(stats.biggest(), start=1):
            name = str(block)
            if len(name) > 60:
                name = name[:57] + "..."
            rows.append([str(rank), name, f"{size:,}", f"{size / records:.1%}" if records else "–"])
        return Table(
            f"The {len(rows)} biggest blocks",
            ["rank", "block id", "records", "share of records"],
            rows,
            text_columns=[1],
            table_id="biggest-blocks",
        )

    def size_table(self) -> Table:
        """Blocks and records per size bin."""
        rows = [
            [_bin_label(low, high), f"{int(blocks):,}", f"{int(records):,}"]
            for (low, high), blocks, records in zip(self.bins, self.blocks_per_bin, self.records_per_bin)
        ]
        return Table(
            "Blocks of each size",
            ["records in the block", "blocks", "records in them"],
            rows,
            table_id="block-sizes-table",
        )

    def key_message(self) -> str:
        """The main finding in a sentence."""
        stats = self.stats
        sizes = stats.size_array()
        records = stats.records_known
        biggest = int(sizes.max())
        text = (
            f"{len(sizes):,} blocks of {records:,} records; the biggest holds {biggest:,} records "
            f"({biggest / records:.1%}). "
        )
        if stats.in_no_block:
            text += (
                f"{stats.in_no_block:,} records ({stats.in_no_block / records:.1%}) are in no block: "
                "they are never compared, so their matches cannot be found."
            )
        else:
            text += "Every record is in at least one block."
        return text

    def page(self) -> Page:
        """The report as a page."""
        page = Page(self.title, f"Block file: {self.stats.path}")
        page.paragraph(self.key_message(), "key")
        page.facts(self.summary(), "summary")
        page.heading("Block sizes")
        page.figure(
            self.charts[0].svg(),
            "Each bar counts the blocks with that many of this file's records. A block's records are compared with "
            "the other parties' records of the same block, so the comparisons grow with the product of their "
            "sizes: a few big blocks can cost more than all the small ones.",
        )
        page.figure(
            self.charts[1].svg(),
            "Each bar counts the records in blocks of that size (a record in several blocks once for each).",
        )
        page.table(self.size_table())
        page.heading("Blocks per record")
        page.figure(
            self.charts[2].svg(),
            "Records in no block (red) are never compared with the other party's records.",
        )
        page.heading("Biggest blocks")
        page.table(self.biggest_table())
        return page


def block_report(blocks_path: str, output: str, svg_output: Optional[str] = None) -> BlockReport:
    """Read a block file and write its block report.

    :param blocks_path: a block file made by ``anonlink block``.
    :param output: the HTML page (``-``: stdout); written only if everything succeeds.
    :param svg_output: also write the charts as one standalone SVG file here.
    :raises InputFileError: for a bad block file or one with no blocks; nothing is written then.
    :raises UsageError: if ``output`` and ``svg_output`` are the same file.
    """
    check_report_outputs(output, svg_output, [blocks_path])
    report = BlockReport(read_blocks(blocks_path))
    report.write(output, svg_output)
    return report


def format_summary(report: BlockReport) -> List[str]:
    """What ``anonlink block-report`` says about a block file, one line per item."""
    return [report.key_message()]
