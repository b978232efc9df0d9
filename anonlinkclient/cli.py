"""The ``anonlink`` command line tool.

Each command is a thin adapter: it parses options, calls one library function,
and reports. Every expected failure is an
:class:`~anonlinkclient.errors.AnonlinkClientError`; :class:`AnonlinkGroup`
turns it into ``Error: <one line>`` on stderr and the error's exit code, and
turns Ctrl-C and SIGTERM into a short message instead of a traceback. Heavy
libraries are imported inside the commands, so ``--help`` and ``--version``
answer quickly.
"""

import copy
import signal
import sys
from typing import Any, Callable, Optional, Tuple, TypeVar

import click

from anonlinkclient import __version__
from anonlinkclient.errors import AnonlinkClientError, Interrupted

F = TypeVar("F", bound=Callable[..., Any])


class CommandFailed(click.ClickException):
    """A known error, shown as ``Error: <message>`` with the error's exit code."""

    def __init__(self, error: AnonlinkClientError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code  # type: ignore[misc]


class AnonlinkGroup(click.Group):
    """The command group: maps known errors and interruptions to messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AnonlinkClientError as exc:
            raise CommandFailed(exc) from exc
        except KeyboardInterrupt:
            raise CommandFailed(Interrupted()) from None
        except BrokenPipeError:
            # The reader of our stdout went away (e.g. `| head`); nothing to report.
            sys.stderr.close()
            ctx.exit(1)


def log(message: str) -> None:
    """Print a status message on stderr (stdout may be carrying data)."""
    click.echo(message, err=True)


def set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["verbose"] = True


def verbose_option(command: F) -> F:
    """``-v/--verbose`` on a command, equivalent to the global flag."""
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=set_verbose,
        help="Script is more talkative",
    )(command)


def is_verbose() -> bool:
    """True if ``-v`` was given before or after the command name."""
    ctx = click.get_current_context()
    return bool(ctx.find_root().ensure_object(dict).get("verbose"))


@click.group(cls=AnonlinkGroup)
@click.version_option(__version__, "--version", prog_name="anonlink")
@verbose_option
def cli() -> None:
    """This command line application allows a user to hash their data into
    cryptographic longterm keys for use in private comparison.

    This tool can also interact with a entity matching service; creating new
    mappings, uploading locally hashed data, watching progress, and retrieving
    results.

    Example:

        anonlink hash private_data.csv secret schema.json output-clks.json
    """


def alias(command: click.Command, name: str) -> None:
    """Register ``command`` a second time under ``name`` (the newer releases' name)."""
    copied = copy.copy(command)
    copied.name = name
    copied.short_help = f"same as '{command.name}'"
    cli.add_command(copied, name)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


@cli.command("hash", short_help="generate hashes from local PII data")
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
    """
    from anonlinkclient.hashing import HeaderMode, hash_csv_file
    from anonlinkclient.secret_source import resolve_secret

    if schema_option is not None:
        if clk_json is not None:
            raise click.UsageError("give the schema either as SCHEMA or with --schema, not both")
        schema, clk_json = schema_option, schema
    elif clk_json is None:
        raise click.UsageError("Missing argument 'CLK_JSON'.")
    header: HeaderMode = False if no_header else (True if check_header else "ignore")
    hash_csv_file(pii_csv, resolve_secret(secret), schema, clk_json, header, validate, workers, progress=is_verbose())
    log(f"CLK data written to {'stdout' if clk_json == '-' else clk_json}")


alias(hash_command, "encode")


@cli.command("describe", short_help="show distribution of clk popcounts")
@click.argument("clk_json")
@verbose_option
def describe(clk_json: str) -> None:
    """show distribution of clk's popcounts using a ascii plot."""
    from anonlinkclient.clk_json import iter_clks
    from anonlinkclient.describe import describe_clks

    click.echo(describe_clks(iter_clks(clk_json), clk_json))


# ---------------------------------------------------------------------------
# Linkage schemas
# ---------------------------------------------------------------------------


@cli.command("validate-schema", short_help="validate linkage schema")
@click.argument("schema")
@verbose_option
def validate_schema(schema: str) -> None:
    """Validate a linkage schema

    Given a file containing a linkage schema, verify the schema is valid
    otherwise print detailed errors.
    """
    from anonlinkclient.errors import SchemaFileError
    from anonlinkclient.linkage_schema import load_json_document, schema_errors

    errors = schema_errors(load_json_document(schema))
    if errors:
        details = "".join(f"\n  {error}" for error in errors)
        raise SchemaFileError(schema, f"not a valid linkage schema:{details}")
    click.echo("schema is valid")


@cli.command("convert-schema", short_help="converts schema file to latest version")
@click.argument("schema_json")
@click.argument("output")
@verbose_option
def convert_schema(schema_json: str, output: str) -> None:
    """convert the given schema file to the latest version.

    Use "-" for OUTPUT to write to stdout.
    """
    import json

    from anonlinkclient.linkage_schema import LATEST_VERSION
    from anonlinkclient.linkage_schema import convert_schema as convert
    from anonlinkclient.output import atomic_output

    converted = convert(schema_json)
    with atomic_output(output) as out:
        json.dump(converted, out, indent=2)
        out.write("\n")
    log(f"schema written to {output} as version {LATEST_VERSION}")


@cli.command("compare", short_help="compare two schemas")
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
    from anonlinkclient.linkage_schema import compare_schemas

    difference = compare_schemas(schema1, schema2, diff_format, lines)
    if difference:
        click.echo(difference, nl=False)


alias(compare, "compare-schema")


# ---------------------------------------------------------------------------
# Test data and benchmark
# ---------------------------------------------------------------------------


@cli.command("generate", short_help="generate random pii data for testing")
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
    from anonlinkclient.fake_pii import write_default_schema, write_fake_pii

    if len(size_output) > 2:
        raise click.UsageError("expected [SIZE] OUTPUT")
    size = click.IntRange(min=1)(size_output[0]) if len(size_output) == 2 else 100
    output = size_output[-1]

    write_fake_pii(size, output)
    if schema is not None:
        write_default_schema(schema)


@cli.command("generate-default-schema", short_help="get the default schema used in generated random PII")
@click.argument("output")
@verbose_option
def generate_default_schema(output: str) -> None:
    """Write the linkage schema of the data 'generate' makes to OUTPUT ("-" for stdout)."""
    from anonlinkclient.fake_pii import write_default_schema

    write_default_schema(output)


@cli.command("benchmark", short_help="carry out a local benchmark")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per core).")
@verbose_option
def benchmark(workers: Optional[int]) -> None:
    """Hash 10000 generated records and report the rate."""
    from anonlinkclient.hashing import benchmark_hashing

    count = 10_000
    seconds = benchmark_hashing(count, workers)
    click.echo(f"{count} hashes in {seconds:.6f} seconds. {count / 1000 / seconds:.2f} KH/s")


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, _frame: Any) -> None:
    raise Interrupted("SIGTERM", 128 + signum)


def main(args: Optional[list] = None) -> None:
    """Run the CLI; SIGTERM cleans up like Ctrl-C does."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    cli.main(args=args, prog_name="anonlink")
