"""The report commands: ``threshold-report`` (choosing a threshold) and ``block-report`` (block sizes)."""

from typing import Any, Callable, List, Optional, Tuple

import click

from anonlinkclient.cli.options import clk_files_option, log, verbose_option
from anonlinkclient.errors import UsageError

#: The library's usage errors of the reports, said in terms of the commands' options.
IN_OPTIONS_WORDS = {
    "svg_output": "--svg needs a different file than OUTPUT",
}


def _output_name(path: str) -> str:
    return "stdout" if path == "-" else path


def _write(
    write: Callable[[], Any], summary: Callable[[Any], List[str]], output: str, svg_output: Optional[str]
) -> None:
    """Write a report with ``write()``, then say what it found (``summary``) and where it went."""
    try:
        report = write()
    except UsageError as exc:
        raise click.UsageError(IN_OPTIONS_WORDS.get(exc.argument or "", str(exc))) from None
    for line in summary(report):
        log(line)
    log(f"Report written to {_output_name(output)}")
    if svg_output is not None:
        log(f"Charts written to {_output_name(svg_output)}")


@click.command("threshold-report", short_help="charts of similarity scores for choosing a threshold")
@click.argument("scores")
@click.argument("output")
@click.option(
    "--truth",
    metavar="TRUTH_CSV",
    help="A ground truth: a CSV file with the header row_a,row_b and one line per matching pair "
    "(rows of party 0 and party 1). Adds precision, recall and F-measure and the best threshold.",
)
@clk_files_option(
    "A party's CLK file, once per party in the order given to find-similarity: every row of the scores "
    "and the ground truth must then exist, and the report shows the number of records."
)
@click.option("--svg", "svg_output", metavar="FILE", help="Also write the charts as one SVG file to FILE.")
@verbose_option
def threshold_report(
    scores: str, output: str, truth: Optional[str], clk_files: Tuple[str, ...], svg_output: Optional[str]
) -> None:
    """Charts of similarity scores, for choosing a linkage threshold

    Reads the similarity scores in SCORES, as written by "anonlink
    find-similarity --scores" or fetched from an Entity Service run of result
    type "similarity_scores", and writes OUTPUT: one self-contained HTML page
    (no script, nothing loaded from the network) with the distribution of the
    scores, the number of links each threshold gives (after one-to-one
    matching, as find-similarity does) and a table of thresholds. With a
    ground truth (--truth) the matches and non-matches are shown apart, with
    precision, recall and F-measure at each threshold and the threshold with
    the best F-measure, which is also printed.

    For example:

    \b
        anonlink find-similarity 0.5 groups.json --clk a.json --clk b.json --scores scores.json
        anonlink threshold-report scores.json report.html --truth truth.csv --svg report.svg

    Use "-" for OUTPUT to write the page to stdout. Nothing is written if an
    input is bad.
    """
    from anonlinkclient.report.threshold import format_summary
    from anonlinkclient.report.threshold import threshold_report as write_report

    _write(lambda: write_report(scores, output, truth, clk_files, svg_output), format_summary, output, svg_output)


@click.command("block-report", short_help="charts of the block sizes of a block file")
@click.argument("blocks")
@click.argument("output")
@click.option("--svg", "svg_output", metavar="FILE", help="Also write the charts as one SVG file to FILE.")
@verbose_option
def block_report(blocks: str, output: str, svg_output: Optional[str]) -> None:
    """Charts of the block sizes of a block file

    Reads BLOCKS, a block file made by "anonlink block", and writes OUTPUT: one
    self-contained HTML page with the distribution of the block sizes (records
    per block), the records in blocks of each size, the number of blocks each
    record is in (records in no block are never compared) and the biggest
    blocks.

    For example:

        anonlink block-report blocks.json blocks.html --svg blocks.svg

    Use "-" for OUTPUT to write the page to stdout. Nothing is written if the
    block file is bad.
    """
    from anonlinkclient.report.blocks import block_report as write_report
    from anonlinkclient.report.blocks import format_summary

    _write(lambda: write_report(blocks, output, svg_output), format_summary, output, svg_output)


COMMANDS = [threshold_report, block_report]
