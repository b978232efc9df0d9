"""Commands that encode PII into CLKs and handle linkage schemas: ``hash``, ``describe``, ``validate-schema``,
``convert-schema``, ``compare``, ``generate``, ``generate-default-schema`` and ``benchmark``."""

from typing import Dict, Optional, Tuple

import click

from anonlinkclient.cli.options import (
    columns_option,
    log,
    quiet_option,
    raw_clk_size_option,
    show_progress,
    source_options,
    verbose_option,
    workers_option,
)
from anonlinkclient.synthetic.fake_pii import DEFAULT_CORRUPTION, DEFAULT_OVERLAP


@click.command("hash", short_help="generate hashes from local PII data")
@click.argument("pii_csv")
@click.argument("secret")
@click.argument("schema")
@click.argument("clk_json", required=False, metavar="CLK_JSON")
@click.option("--schema", "schema_option", metavar="SCHEMA", help="The linkage schema, instead of the SCHEMA argument.")
@click.option("--no-header", is_flag=True, help="Don't skip the first row")
@click.option(
    "--check-header", type=bool, default=True, show_default=True, help="If true, check the header against the schema"
)
@click.option(
    "--validate", type=bool, default=True, show_default=True, help="If true, validate the entries against the schema"
)
@workers_option
@click.option(
    "--format",
    "clk_format",
    type=click.Choice(["json", "binary"]),
    default="json",
    show_default=True,
    help="The output's format: the CLKs as JSON, or in the Entity Service's binary format after a short header "
    "(--input-format is the input's).",
)
@source_options
@columns_option
@quiet_option
@verbose_option
def hash_command(
    pii_csv: str,
    secret: str,
    schema: str,
    clk_json: Optional[str],
    schema_option: Optional[str],
    no_header: bool,
    check_header: bool,
    validate: bool,
    workers: Optional[int],
    clk_format: str,
    input_format: Optional[str],
    table: Optional[str],
    query: Optional[str],
    sheet: Optional[str],
    columns: Optional[str],
    quiet: bool,
) -> None:
    """Process data to create CLKs

    Given a file containing CSV data as PII_CSV, and a JSON document defining
    the expected schema, verify the schema, then hash the data to create CLKs
    writing them as JSON to CLK_JSON.

    It is important that the secret is only known by the two data providers.
    One word must be provided. For example:

        anonlink hash pii.csv horse_stable pii-schema.json clks.json

    PII_CSV may also be a Parquet file (.parquet) or a directory of Parquet
    part files, an Excel workbook (.xlsx, the first sheet or --sheet) or a
    database URL with --table or --query (postgresql://user@host/db,
    sqlite:///people.db; the password comes from PGPASSWORD, ~/.pgpass or
    ANONLINK_DB_PASSWORD, never the URL); --input-format names the kind where
    the name does not say it. Their columns are found by the features' names
    (--columns maps others), and typed values become the text the schema
    expects.

    To keep the secret out of your shell history and the process list, give
    SECRET as env:NAME (read the environment variable NAME) or file:PATH (read
    the first line of the file PATH).

    Use "-" for CLK_JSON to write JSON to stdout; it is written once every
    record is hashed (nothing is written if a record fails).

    The file records how it was made, before the CLKs: this tool and its
    version, the CLK length, the schema fingerprint and a short check value of
    the secret (see "anonlink describe"). With --format binary it is a short
    header followed by each CLK's raw bytes, the Entity Service's binary
    format (to stdout or a pipe it is copied once complete).
    """
    from anonlinkclient.encoding.hashing import HeaderMode, hash_csv_file
    from anonlinkclient.encoding.pii import parse_column_mapping
    from anonlinkclient.encoding.secrets import resolve_secret
    from anonlinkclient.io.output import check_outputs
    from anonlinkclient.io.sources import is_typed

    if schema_option is not None:
        if clk_json is not None:
            raise click.UsageError("give the schema either as SCHEMA or with --schema, not both")
        schema, clk_json = schema_option, schema
    elif clk_json is None:
        raise click.UsageError("Missing argument 'CLK_JSON'.")
    secret_file = secret[len("file:") :] if secret.startswith("file:") else None
    check_outputs([clk_json], [pii_csv, schema, secret_file])
    header: HeaderMode = False if no_header else (True if check_header else "ignore")
    if no_header and is_typed(pii_csv, input_format):
        raise click.UsageError("--no-header is for CSV files; this input names its columns")
    hash_csv_file(
        pii_csv,
        resolve_secret(secret),
        schema,
        clk_json,
        header,
        validate,
        workers,
        progress=show_progress(quiet),
        clk_format=clk_format,
        input_format=input_format,
        table=table,
        query=query,
        sheet=sheet,
        columns=parse_column_mapping(columns) if columns is not None else None,
    )
    log(f"CLK data written to {'stdout' if clk_json == '-' else clk_json}")


@click.command("describe", short_help="show distribution of clk popcounts")
@click.argument("clk_json")
@raw_clk_size_option
@verbose_option
def describe(clk_json: str, raw_clk_size: Optional[int]) -> None:
    """show distribution of clk's popcounts using a ascii plot.

    CLK_JSON may be a JSON or a binary CLK file. What the file records about
    how it was made (tool, CLK length, schema fingerprint, secret check value)
    is shown after the summary.
    """
    from anonlinkclient.report.describe import describe_clk_file

    report, notes = describe_clk_file(clk_json, raw_clk_size)
    click.echo(report)
    for note in notes:
        log(note)


@click.command("validate-schema", short_help="validate linkage schema")
@click.argument("schema")
@verbose_option
def validate_schema(schema: str) -> None:
    """Validate a linkage schema

    Given a file containing a linkage schema, verify the schema is valid
    otherwise print detailed errors. A valid schema's fingerprint is printed
    too: the same for every file that describes the same schema (whatever its
    version, formatting or key order), and recorded in the CLK files hashed
    with it.
    """
    from anonlinkclient.encoding.schema import load_schema_document, schema_fingerprint, warn_about_folds
    from anonlinkclient.errors import InvalidSchema

    try:
        document = load_schema_document(schema)
    except InvalidSchema as exc:
        raise InvalidSchema(exc.path, exc.kind, exc.problems, every_problem=True) from None
    warn_about_folds(document)
    click.echo("schema is valid")
    click.echo(f"schema fingerprint: {schema_fingerprint(document)}")


@click.command("convert-schema", short_help="converts schema file to latest version")
@click.argument("schema_json")
@click.argument("output")
@verbose_option
def convert_schema(schema_json: str, output: str) -> None:
    """convert the given schema file to the latest version.

    Use "-" for OUTPUT to write to stdout.
    """
    import json

    from anonlinkclient.encoding.schema import LATEST_VERSION
    from anonlinkclient.encoding.schema import convert_schema as convert
    from anonlinkclient.io.output import atomic_output, check_outputs

    check_outputs([output], [schema_json])
    converted = convert(schema_json)
    with atomic_output(output) as out:
        json.dump(converted, out, indent=2)
        out.write("\n")
    log(f"schema written to {output} as version {LATEST_VERSION}")


@click.command("compare", short_help="compare two schemas")
@click.argument("schema1")
@click.argument("schema2")
@click.option("-n", "diff_format", flag_value="ndiff", default=True, help="Produce an ndiff format diff (default)")
@click.option("-c", "diff_format", flag_value="context", help="Produce a context format diff")
@click.option("-u", "diff_format", flag_value="unified", help="Produce a unified format diff")
@click.option("-m", "diff_format", flag_value="html", help="Produce an HTML side by side diff")
@click.option("-l", "--lines", type=click.IntRange(min=0), default=3, show_default=True, help="Number of context lines")
@verbose_option
def compare(schema1: str, schema2: str, diff_format: str, lines: int) -> None:
    """Compare two schemas and show how they differ.

    The default format is ndiff (-n): every line, '- ' for lines of SCHEMA1
    only, '+ ' for lines of SCHEMA2 only, '? ' guiding the eye to changes
    within a line. For -n and -m valid linkage schemas are converted to the
    latest version first, so two versions of one encoding show no
    difference. -c and -u diff the files' lines as written: their line
    numbers and the -l lines of context are the files'; nothing is printed if
    the files are the same. A schema that does not validate (or is not
    JSON) is compared as written, with a note on stderr. -m writes an HTML
    page (anonlink compare -m a.json b.json > diff.html).
    """
    from anonlinkclient.encoding.schema import compare_schemas

    difference = compare_schemas(schema1, schema2, diff_format, lines)
    if difference:
        click.echo(difference, nl=False)


def _where(path: str) -> str:
    return "stdout" if path == "-" else path


def _refuse_clash(outputs: Dict[str, Optional[str]]) -> None:
    """One usage error if two of the outputs (keyed by how the command line names them) are the same file."""
    from anonlinkclient.synthetic.fake_pii import output_clash

    clash = output_clash(outputs)
    if clash is not None:
        first, second = clash
        raise click.UsageError(
            f"{first} and {second} are the same file ({_where(outputs[second] or '')}); give each its own"
        )


def _size(text: str) -> int:
    try:
        size: int = click.IntRange(min=1)(text)
    except click.BadParameter as exc:
        exc.param_hint = "'SIZE'"
        raise
    return size


@click.command("generate", short_help="generate random pii data for testing")
@click.argument("size_output", nargs=-1, required=True, metavar="[SIZE] OUTPUT")
@click.option(
    "-s", "--schema", metavar="FILENAME", help="Also write the linkage schema that fits the data to FILENAME."
)
@click.option(
    "--linked",
    metavar="FILENAME",
    help="Also write a second party of SIZE records to FILENAME that shares people with OUTPUT, with errors.",
)
@click.option(
    "--overlap",
    type=click.FloatRange(0.0, 1.0),
    help=f"With --linked: the fraction of the people that are in both parties (default {DEFAULT_OVERLAP}).",
)
@click.option(
    "--corruption",
    type=click.FloatRange(0.0, 1.0),
    help="With --linked: the chance that a record of the linked party has an error, and then another "
    f"(default {DEFAULT_CORRUPTION}; 0 copies the shared people exactly).",
)
@click.option(
    "--truth",
    metavar="FILENAME",
    help="With --linked: write which rows are the same person to FILENAME, as CSV with the header row_a,row_b.",
)
@click.option("--seed", type=int, help="Write the same data on every run (any whole number).")
@verbose_option
def generate(
    size_output: Tuple[str, ...],
    schema: Optional[str],
    linked: Optional[str],
    overlap: Optional[float],
    corruption: Optional[float],
    truth: Optional[str],
    seed: Optional[int],
) -> None:
    """Generate fake PII data for testing

    Writes SIZE records (default 100) of id, name, date of birth and gender as
    CSV with a header to OUTPUT ("-" for stdout). The INDEX column numbers the
    rows from 0; the linkage schemas do not hash it.

    With --linked, also writes a second party of SIZE records: the fraction
    --overlap of them are people of OUTPUT, the others new people, in random
    order. Like real data, its records have errors: typos, names swapped or
    shortened, a changed last name, day and month swapped, a wrong digit in the
    date of birth, missing values. Each record gets one with the chance
    --corruption, and then another with the same chance. --truth writes which
    rows match: the 0-based rows of OUTPUT (row_a) and of the linked party
    (row_b), which are also their CLK indices after "anonlink hash". For
    example, two parties that share 500 people, hashed with the default schema
    and linked:

    \b
        anonlink generate 1000 alice.csv --linked bob.csv --truth truth.csv --seed 42
        anonlink generate-default-schema schema.json
        anonlink hash alice.csv horse schema.json alice.json
        anonlink hash bob.csv horse schema.json bob.json
        anonlink find-similarity 0.8 groups.json --clk alice.json --clk bob.json

    finds 455 pairs, of which 451 are in truth.csv (of 500 there).

    Every file is written completely or not at all.
    """
    from anonlinkclient.io.output import check_outputs
    from anonlinkclient.synthetic.fake_pii import write_demo_data

    if len(size_output) > 2:
        raise click.UsageError("expected [SIZE] OUTPUT")
    size = _size(size_output[0]) if len(size_output) == 2 else 100
    output = size_output[-1]
    if linked is None:
        given = [
            name
            for name, value in (("--overlap", overlap), ("--corruption", corruption), ("--truth", truth))
            if value is not None
        ]
        if given:
            raise click.UsageError(f"{given[0]} needs --linked, the second party it describes")
    _refuse_clash({"OUTPUT": output, "--linked": linked, "--truth": truth, "--schema": schema})

    check_outputs([output, linked, truth, schema])
    result = write_demo_data(
        size,
        output,
        linked_output=linked,
        truth_output=truth,
        schema_output=schema,
        overlap=DEFAULT_OVERLAP if overlap is None else overlap,
        corruption=DEFAULT_CORRUPTION if corruption is None else corruption,
        seed=seed,
    )
    message = f"{size} records written to {_where(output)}"
    if linked is not None:
        message += (
            f" and {size} to {_where(linked)} ({result.shared} people in both, "
            f"{result.corrupted} linked records with errors)"
        )
    if truth is not None:
        message += f", ground truth to {_where(truth)}"
    if schema is not None:
        message += f", linkage schema to {_where(schema)}"
    log(message)


@click.command("generate-default-schema", short_help="get the default schema used in generated random PII")
@click.argument("output")
@click.option(
    "--blocking-psig",
    metavar="FILENAME",
    help="Also write a p-sig blocking schema for the PII CSV that 'generate' makes to FILENAME.",
)
@click.option(
    "--blocking-lambda-fold",
    metavar="FILENAME",
    help='Also write a lambda-fold blocking schema for its CLKs ("input-clks": true) to FILENAME.',
)
@verbose_option
def generate_default_schema(output: str, blocking_psig: Optional[str], blocking_lambda_fold: Optional[str]) -> None:
    """Write the linkage schema of the data 'generate' makes to OUTPUT ("-" for stdout).

    The blocking schemas fit the same data: the p-sig schema blocks the PII
    CSV, the lambda-fold schema blocks the CLKs that "anonlink hash" makes with
    the linkage schema. For example:

    \b
        anonlink generate-default-schema schema.json --blocking-psig psig.json
        anonlink block alice.csv psig.json alice-blocks.json
    """
    from anonlinkclient.synthetic.fake_pii import write_default_schemas

    _refuse_clash({"OUTPUT": output, "--blocking-psig": blocking_psig, "--blocking-lambda-fold": blocking_lambda_fold})
    write_default_schemas(output, blocking_psig, blocking_lambda_fold)
    message = f"Linkage schema written to {_where(output)}"
    if blocking_psig is not None:
        message += f", p-sig blocking schema to {_where(blocking_psig)}"
    if blocking_lambda_fold is not None:
        message += f", lambda-fold blocking schema to {_where(blocking_lambda_fold)}"
    log(message)


@click.command("benchmark", short_help="carry out a local benchmark")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@verbose_option
def benchmark(workers: Optional[int]) -> None:
    """Hash 10000 generated records and report the rate."""
    from anonlinkclient.encoding.hashing import benchmark_hashing

    count = 10_000
    seconds = benchmark_hashing(count, workers)
    click.echo(f"{count} hashes in {seconds:.6f} seconds. {count / 1000 / seconds:.2f} KH/s")


COMMANDS = [
    hash_command,
    describe,
    validate_schema,
    convert_schema,
    compare,
    generate,
    generate_default_schema,
    benchmark,
]
#: Second names of commands (the names newer releases use).
ALIASES = {"encode": hash_command, "compare-schema": compare}
