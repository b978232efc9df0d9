"""The ``find-similarity`` command: linking parties' CLKs locally."""

from typing import Optional, Tuple

import click

from anonlinkclient.cli.options import (
    FiniteFloatRange,
    clk_files_option,
    is_verbose,
    log,
    quiet_option,
    raw_clk_size_option,
    show_progress,
    verbose_option,
)
from anonlinkclient.errors import UsageError

#: The library's usage errors of find-similarity, said in terms of the command's options.
IN_OPTIONS_WORDS = {
    "files": "give at least two parties: --clk CLK_JSON (or --files CLK_JSON BLOCK_JSON) once for each party",
    "scores_output": "--scores needs a different file than OUTPUT",
}


@click.command("find-similarity", short_help="link CLKs locally, without an entity service")
@click.argument("threshold", type=FiniteFloatRange(0.0, 1.0))
@click.argument("output")
@clk_files_option("A party's CLK file; give it once per party (no blocking).")
@click.option(
    "--files",
    "blocked_files",
    multiple=True,
    type=(str, str),
    metavar="CLK_JSON BLOCK_JSON",
    help="A party's CLK file and block file; give it once per party (blocking).",
)
@click.option("--scores", metavar="FILE", help="Also write every candidate pair and its similarity to FILE.")
@click.option(
    "--force", is_flag=True, help="Link even if the CLK files record different schema fingerprints or secrets."
)
@raw_clk_size_option
@quiet_option
@verbose_option
def find_similarity(
    threshold: float,
    output: str,
    clk_files: Tuple[str, ...],
    blocked_files: Tuple[Tuple[str, str], ...],
    scores: Optional[str],
    force: bool,
    raw_clk_size: Optional[int],
    quiet: bool,
) -> None:
    """Link the CLKs of two or more parties locally

    Compares the CLKs of every two parties with the Dice coefficient, keeps the
    pairs with a similarity of at least THRESHOLD and solves them into groups
    with anonlink's greedy solver; a group may span any number of parties.
    Writes {"groups": [[[party, row], ...], ...]} to OUTPUT, the form of an
    Entity Service result of type "groups". Parties are numbered from 0 in the
    order given.

    Without blocking, give each party's CLK file with --clk:

        anonlink find-similarity 0.9 groups.json --clk a.json --clk b.json

    With blocking, give each party's CLK file and its block file (made by
    "anonlink block") with --files; only records that share a block are
    compared:

    \b
        anonlink find-similarity 0.9 groups.json \\
            --files a.json a-blocks.json --files b.json b-blocks.json

    Use "-" for OUTPUT to write JSON to stdout.

    CLK files may be JSON or binary. Before linking, what they record about
    how they were made is compared: files of different CLK lengths are refused,
    and so are files made with different linkage schemas (schema fingerprint)
    or secrets (secret check value), unless --force is given. Files made by
    older tools record nothing and cannot be checked (a note says so).
    """
    from anonlinkclient.linkage.similarity import find_similarity as link_locally
    from anonlinkclient.linkage.similarity import format_summary, output_name

    if clk_files and blocked_files:
        raise click.UsageError("give the parties with --clk (no blocking) or with --files (blocking), not both")
    files = [(clk, None) for clk in clk_files] + [(clk, blocks) for clk, blocks in blocked_files]
    try:
        result = link_locally(threshold, files, output, scores, show_progress(quiet), force, raw_clk_size)
    except UsageError as exc:
        raise click.UsageError(IN_OPTIONS_WORDS.get(exc.argument or "", str(exc))) from None
    for line in format_summary(result, verbose=is_verbose()):
        log(line)
    log(f"Groups written to {output_name(output)}")
    if scores is not None:
        log(f"Similarity scores written to {output_name(scores)}")


COMMANDS = [find_similarity]
