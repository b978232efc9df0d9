"""Commands that encode PII into CLKs and handle linkage schemas: ``hash``, ``describe``, ``validate-schema``,
``convert-schema``, ``compare``, ``generate``, ``generate-default-schema`` and ``benchmark``."""

from typing import Optional, Tuple

import click

from anonlinkclient.cli.options import is_verbose, log, raw_clk_size_option, verbose_option


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
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core; 1 starts no subprocess)."
)
@click.option(
    "--format",
    "clk_format",
    type=click.Choice(["json", "binary"]),
    default="json",
    show_default=True,
    help="Write the CLKs as JSON, or in the Entity Service's binary format after a short header.",
)
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
) -> None:
    """Process data to create CLKs

    Given a file containing CSV data as PII_CSV, and a JSON document defining
    the expected schema, verify the schema, then hash the data to create CLKs
    writing them as JSON to CLK_JSON.

    It is important that the secret is only known by the two data providers.
    One word must be provided. For example:

        anonlink hash pii.csv horse_stable pii-schema.json clks.json

    To keep the secret out of your shell history and the process list, give
    SECRET as env:NAME (read the environment variable NAME) or file:PATH (read
    the first line of the file PATH).

    Use "-" for CLK_JSON to write JSON to stdout.

    The file records how it was made, before the CLKs: this tool and its
    version, the CLK length, the schema fingerprint and a short check value of
    the secret (see "anonlink describe"). With --format binary it is a short
    header followed by each CLK's raw bytes, the Entity Service's binary
    format; it must be a file (not a pipe).
    """
    from anonlinkclient.encoding.hashing import HeaderMode, hash_csv_file
    from anonlinkclient.encoding.secrets import resolve_secret

    if schema_option is not None:
        if clk_json is not None:
            raise click.UsageError("give the schema either as SCHEMA or with --schema, not both")
        schema, clk_json = schema_option, schema
    elif clk_json is None:
        raise click.UsageError("Missing argument 'CLK_JSON'.")
    header: HeaderMode = False if no_header else (True if check_header else "ignore")
    hash_csv_file(
        pii_csv, resolve_secret(secret), schema, clk_json, header, validate, workers, is_verbose(), clk_format
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
    from anonlinkclient.encoding.describe import describe_clk_file

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
    from anonlinkclient.encoding.schema import load_schema_document, schema_fingerprint
    from anonlinkclient.errors import InvalidSchema

    try:
        document = load_schema_document(schema)
    except InvalidSchema as exc:
        raise InvalidSchema(exc.path, exc.kind, exc.problems, every_problem=True) from None
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
    from anonlinkclient.io.output import atomic_output

    converted = convert(schema_json)
    with atomic_output(output) as out:
        json.dump(converted, out, indent=2)
        out.write("\n")
    log(f"schema written to {output} as version {LATEST_VERSION}")


@click.command("compare", short_help="compare two schemas")
@click.argument("schema1")
@click.argument("schema2")
@click.option("-c", "diff_format", flag_value="context", default=True, help="Produce a context format diff (default)")
@click.option("-u", "diff_format", flag_value="unified", help="Produce a unified format diff")
@click.option("-n", "diff_format", flag_value="ndiff", help="Produce an ndiff format diff")
@click.option("-m", "diff_format", flag_value="html", help="Produce an HTML side by side diff")
@click.option("-l", "--lines", type=click.IntRange(min=0), default=3, show_default=True, help="Number of context lines")
@verbose_option
def compare(schema1: str, schema2: str, diff_format: str, lines: int) -> None:
    """Compare two linkage schemas.

    Both schemas are validated and converted to the latest version, then shown
    as the differences between their JSON. Nothing is printed (exit code 0) if
    they describe the same encoding.
    """
    from anonlinkclient.encoding.schema import compare_schemas

    difference = compare_schemas(schema1, schema2, diff_format, lines)
    if difference:
        click.echo(difference, nl=False)


@click.command("generate", short_help="generate random pii data for testing")
@click.argument("size_output", nargs=-1, required=True, metavar="[SIZE] OUTPUT")
@click.option(
    "-s", "--schema", metavar="FILENAME", help="Also write the linkage schema that fits the data to FILENAME."
)
@verbose_option
def generate(size_output: Tuple[str, ...], schema: Optional[str]) -> None:
    """Generate fake PII data for testing

    Writes SIZE records (default 100) of id, name, date of birth and gender as
    CSV with a header to OUTPUT ("-" for stdout).
    """
    from anonlinkclient.encoding.fake_pii import write_default_schema, write_fake_pii

    if len(size_output) > 2:
        raise click.UsageError("expected [SIZE] OUTPUT")
    size = click.IntRange(min=1)(size_output[0]) if len(size_output) == 2 else 100
    output = size_output[-1]

    write_fake_pii(size, output)
    if schema is not None:
        write_default_schema(schema)


@click.command("generate-default-schema", short_help="get the default schema used in generated random PII")
@click.argument("output")
@verbose_option
def generate_default_schema(output: str) -> None:
    """Write the linkage schema of the data 'generate' makes to OUTPUT ("-" for stdout)."""
    from anonlinkclient.encoding.fake_pii import write_default_schema

    write_default_schema(output)


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
