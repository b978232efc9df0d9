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
    workers_option,
)
from anonlinkclient.errors import UsageError

#: The library's usage errors of find-similarity, said in terms of the command's options.
IN_OPTIONS_WORDS = {
    "files": "give at least two parties: --clk CLK_JSON (or --files CLK_JSON BLOCK_JSON) once for each party",
    "scores_output": "--scores needs a different file than OUTPUT",
    "scores_format": "--scores-format binary holds parties 0 to 65535; use --scores-format json",
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
    "--scores-format",
    type=click.Choice(["json", "binary"]),
    default="json",
    show_default=True,
    help="Write the scores as JSON (the Entity Service's similarity_scores), or binary: 20 bytes a pair "
    "instead of about 44, and much faster to read.",
)
@click.option(
    "--scores-sample",
    type=FiniteFloatRange(0.0, 1.0, min_open=True),
    metavar="RATE",
    help="Write only a sample of the scores: every pair with similarity of at least --scores-sample-above, "
    "and each other pair with chance RATE (e.g. 0.01). The file records how, so counts can be re-weighted.",
)
@click.option(
    "--scores-sample-above",
    type=FiniteFloatRange(0.0, 1.0),
    metavar="SIMILARITY",
    help="The similarity at and above which --scores-sample keeps every pair "
    "(default: that of the N-th most similar pair, N the number of records of all parties).",
)
@click.option(
    "--scores-seed",
    type=click.IntRange(0, 2**64 - 1),
    metavar="SEED",
    default=0,
    show_default=True,
    help="The seed of --scores-sample's random choice (the same seed and scores give the same sample).",
)
@click.option(
    "--force", is_flag=True, help="Link even if the CLK files record different schema fingerprints or secrets."
)
@raw_clk_size_option
@workers_option
@quiet_option
@verbose_option
def find_similarity(
    threshold: float,
    output: str,
    clk_files: Tuple[str, ...],
    blocked_files: Tuple[Tuple[str, str], ...],
    scores: Optional[str],
    scores_format: str,
    scores_sample: Optional[float],
    scores_sample_above: Optional[float],
    scores_seed: int,
    force: bool,
    raw_clk_size: Optional[int],
    workers: Optional[int],
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

    The comparisons run on every core (--workers); the groups and scores are
    the same, byte for byte, as with --workers 1.

    Before the scores are written, a line says how many pairs are coming. At a
    low threshold they can be many (2 x 10,000 records at 0.3: 98 million
    pairs, 4.3 GB of JSON): --scores-format binary writes less than half the
    bytes, and --scores-sample keeps the pairs a threshold report needs (all
    the similar ones, a sample of the rest). "anonlink threshold-report" reads
    every form.
    """
    from anonlinkclient.linkage.similarity import find_similarity as link_locally
    from anonlinkclient.linkage.similarity import format_summary, output_name

    if clk_files and blocked_files:
        raise click.UsageError("give the parties with --clk (no blocking) or with --files (blocking), not both")
    given = click.get_current_context().get_parameter_source
    for name, needs, missing in (
        ("scores_format", "--scores", scores is None),
        ("scores_sample", "--scores", scores is None),
        ("scores_sample_above", "--scores-sample", scores_sample is None),
        ("scores_seed", "--scores-sample", scores_sample is None),
    ):
        if missing and given(name) is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--{name.replace('_', '-')} needs {needs}")
    files = [(clk, None) for clk in clk_files] + [(clk, blocks) for clk, blocks in blocked_files]
    try:
        result = link_locally(
            threshold,
            files,
            output,
            scores,
            show_progress(quiet),
            force,
            raw_clk_size,
            workers,
            scores_format,
            scores_sample,
            scores_sample_above,
            scores_seed,
        )
    except UsageError as exc:
        raise click.UsageError(IN_OPTIONS_WORDS.get(exc.argument or "", str(exc))) from None
    for line in format_summary(result, verbose=is_verbose()):
        log(line)
    log(f"Groups written to {output_name(output)}")
    if scores is not None:
        log(f"Similarity scores written to {output_name(scores)}")


COMMANDS = [find_similarity]
