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
# ---- Blocking and local linkage ----
# ---------------------------------------------------------------------------


@cli.command("block", short_help="generate candidate blocks from local PII data")
@click.argument("pii_csv")
@click.argument("schema")
@click.argument("block_json", required=False, metavar="BLOCK_JSON")
@click.option("--schema", "schema_option", metavar="SCHEMA", help="The blocking schema, instead of SCHEMA.")
@click.option("--no-header", is_flag=True, help="Don't skip the first row")
@verbose_option
def block(pii_csv: str, schema: str, block_json: Optional[str], schema_option: Optional[str], no_header: bool) -> None:
    """Process data to create blocking information

    Given a file containing CSV data as PII_CSV, and a JSON document defining
    the blocking configuration, then generate candidate blocks writing to JSON
    output. Note the CSV file should contain a header row - however this row is
    not used by this tool. Setting the verbose flag outputs more detailed
    blocking statistics.

    A lambda-fold schema with "input-clks": true blocks the CLK file made by
    "anonlink hash" instead of the CSV.

    For example:

        anonlink block pii.csv blocking-schema.json blocks.json

    Use "-" for BLOCK_JSON to write JSON to stdout.
    """
    from anonlinkclient.blocking import block_file, format_statistics

    if schema_option is not None:
        if block_json is not None:
            raise click.UsageError(
                f"with --schema give only PII_CSV and BLOCK_JSON, not three arguments "
                f"({pii_csv} {schema} {block_json}); blocking uses no secret"
            )
        schema, block_json = schema_option, schema
    elif block_json is None:
        raise click.UsageError("Missing argument 'BLOCK_JSON'.")
    result = block_file(pii_csv, schema, block_json, header=not no_header)
    for line in format_statistics(result, verbose=is_verbose()):
        log(line)


@cli.command("find-similarity", short_help="link CLKs locally, without an entity service")
@click.argument("threshold", type=click.FloatRange(0.0, 1.0))
@click.argument("output")
@click.option(
    "--clk",
    "clk_files",
    multiple=True,
    metavar="CLK_JSON",
    help="A party's CLK file; give it once per party (no blocking).",
)
@click.option(
    "--files",
    "blocked_files",
    multiple=True,
    type=(str, str),
    metavar="CLK_JSON BLOCK_JSON",
    help="A party's CLK file and block file; give it once per party (blocking).",
)
@click.option("--scores", metavar="FILE", help="Also write every candidate pair and its similarity to FILE.")
@verbose_option
def find_similarity(
    threshold: float,
    output: str,
    clk_files: Tuple[str, ...],
    blocked_files: Tuple[Tuple[str, str], ...],
    scores: Optional[str],
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
    """
    from anonlinkclient.local_linkage import find_similarity as link_locally
    from anonlinkclient.local_linkage import format_summary, output_name

    if clk_files and blocked_files:
        raise click.UsageError("give the parties with --clk (no blocking) or with --files (blocking), not both")
    files = [(clk, None) for clk in clk_files] + [(clk, blocks) for clk, blocks in blocked_files]
    if len(files) < 2:
        raise click.UsageError(
            "give at least two parties: --clk CLK_JSON (or --files CLK_JSON BLOCK_JSON) once for each party"
        )
    if scores is not None and scores == output:
        raise click.UsageError("--scores needs a different file than OUTPUT")
    result = link_locally(threshold, files, output, scores)
    for line in format_summary(result, verbose=is_verbose()):
        log(line)
    log(f"Groups written to {output_name(output)}")
    if scores is not None:
        log(f"Similarity scores written to {output_name(scores)}")


# ---------------------------------------------------------------------------
# ---- Entity Service ----
# ---------------------------------------------------------------------------

SERVICE_SETTINGS = "anonlinkclient.service"


def _remember_service_setting(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if param.name == "server":
        from anonlinkclient.rest_client import normalise_server_url

        try:
            normalise_server_url(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    ctx.meta.setdefault(SERVICE_SETTINGS, {})[param.name] = value
    return value


def _service_option(*decls: str, **attrs: Any) -> Callable[[F], F]:
    return click.option(*decls, expose_value=False, callback=_remember_service_setting, **attrs)


def service_options(command: F) -> F:
    """The options of every command that talks to an Entity Service: server, retry limits, TLS, ``-v``."""
    options = [
        _service_option(
            "--server",
            envvar="ANONLINK_SERVER",
            show_envvar=True,
            default="https://anonlink.easd.data61.xyz",
            show_default=True,
            help="Server address including protocol.",
        ),
        _service_option(
            "--retry-multiplier",
            type=click.IntRange(min=0),
            default=100,
            show_default=True,
            help="<milliseconds> If receiving a 503 from server, minimum time between retries.",
        ),
        _service_option(
            "--retry-exponential-max",
            type=click.IntRange(min=0),
            default=10000,
            show_default=True,
            help="<milliseconds> If receiving a 503 from server, maximum time between retries.",
        ),
        _service_option(
            "--retry-max-time",
            type=click.IntRange(min=0),
            default=20000,
            show_default=True,
            help="<milliseconds> If receiving a 503 from server, stop retrying after this time.",
        ),
        _service_option(
            "--timeout",
            envvar="ANONLINK_TIMEOUT",
            show_envvar=True,
            type=click.FloatRange(min=0, min_open=True),
            default=300,
            show_default=True,
            help="<seconds> Wait this long for each answer of the server and its object store "
            "(and at most 10 s for a connection).",
        ),
        _service_option(
            "--insecure",
            is_flag=True,
            help="Do not verify the TLS certificates of the server and its object store (testing only).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return verbose_option(command)


def apikey_option(help_text: str) -> Callable[[F], F]:
    """``--apikey``, also read from ``ANONLINK_APIKEY`` so that it need not appear in the process list."""
    return click.option(
        "--apikey", envvar="ANONLINK_APIKEY", show_envvar=True, required=True, metavar="TOKEN", help=help_text
    )


def service_client() -> Any:
    """A :class:`~anonlinkclient.rest_client.RestClient` for the ``--server`` and retry options given."""
    from anonlinkclient.rest_client import ClientWaitingConfiguration, RestClient

    settings = click.get_current_context().meta[SERVICE_SETTINGS]
    waiting = ClientWaitingConfiguration(
        settings["retry_multiplier"], settings["retry_exponential_max"], settings["retry_max_time"]
    )
    client = RestClient(settings["server"], waiting, verify_tls=not settings["insecure"], timeout=settings["timeout"])
    if is_verbose():
        client.on_retry = log
        log(f"Connecting to Entity Matching Server: {client.server}")
    if settings["insecure"] and client.server.lower().startswith("https:"):
        log(f"Warning: not verifying the TLS certificate of {client.server} (--insecure)")
    return client


def write_json(document: Any, output: str, private: bool = False) -> None:
    """Write a service answer as JSON to ``output`` (``-``: stdout)."""
    import json

    from anonlinkclient.output import atomic_output

    with atomic_output(output, private=private) as out:
        json.dump(document, out, indent=2, sort_keys=True)
        out.write("\n")


@cli.command("status", short_help="get status of entity service")
@click.option("-o", "--output", default="-", show_default=True, help="Where to write the status JSON.")
@service_options
def status(output: str) -> None:
    """Connect to an entity matching server and check the service status.

    Prints the service's answer, e.g. {"project_count": 3, "rate": 2205592, "status": "ok"}.
    """
    import json

    from anonlinkclient.output import atomic_output

    answer = service_client().server_get_status()
    with atomic_output(output) as out:
        out.write(json.dumps(answer, sort_keys=True) + "\n")


@cli.command("create-project", short_help="create a linkage project on the entity service")
@click.option(
    "--type",
    "result_type",
    type=click.Choice(["permutations", "similarity_scores", "groups"]),
    default="groups",
    show_default=True,
    help="What the linkage result is. Only groups allows more than 2 parties.",
)
@click.option("--schema", required=True, metavar="SCHEMA", help="Linkage schema to publicly share with the parties.")
@click.option("--name", help="Name to give this project.")
@click.option("--parties", type=click.IntRange(min=2), default=2, show_default=True, help="Number of data providers.")
@click.option("--blocked", is_flag=True, help="The parties will upload blocks with their encodings.")
@click.option(
    "-o",
    "--output",
    required=True,
    help="File to write the project's credentials to (readable by you only); '-' for stdout.",
)
@service_options
def create_project(
    result_type: str, schema: str, name: Optional[str], parties: int, blocked: bool, output: str
) -> None:
    """Create a new project on an entity matching server.

    The linkage schema is validated before anything is sent. The answer holds
    the project_id, the result_token (for creating runs and fetching results)
    and one upload token per party in update_tokens; it is written to OUTPUT,
    created readable by its owner only. Give each data provider the project_id
    and one upload token.
    """
    from anonlinkclient.errors import SchemaFileError
    from anonlinkclient.linkage_schema import load_json_document, schema_errors

    if parties > 2 and result_type != "groups":
        raise click.BadParameter(
            f"{parties} parties need --type groups (only groups supports more than 2 parties)",
            param_hint="'--parties'",
        )
    document = load_json_document(schema)
    errors = schema_errors(document)
    if errors:
        raise SchemaFileError(schema, f"not a valid linkage schema: {errors[0]}")
    answer = service_client().project_create(document, result_type, name, parties=parties, uses_blocking=blocked)
    write_json(answer, output, private=True)
    log("Project created")


@cli.command("create", short_help="create a run on the entity service")
@click.option("--name", help="Name to give this run.")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("The project's result token.")
@click.option(
    "-t",
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True),
    required=True,
    help="Similarity (0 to 1] above which two records are a match.",
)
@click.option("-o", "--output", default="-", show_default=True, help="File to write the run's description to.")
@service_options
def create(name: Optional[str], project: str, apikey: str, threshold: float, output: str) -> None:
    """Create a new run on an entity matching server.

    The run links the project's uploads at the given similarity threshold. Its
    description, with the run_id that 'results' and 'delete' need, is written
    to OUTPUT.
    """
    answer = service_client().run_create(project, apikey, threshold, name)
    write_json(answer, output, private=True)


@cli.command("upload", short_help="upload hashes to entity service")
@click.argument("clk_json", metavar="CLK_JSON")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("Your upload token (one of the project's update_tokens).")
@click.option("--blocks", metavar="BLOCK_JSON", help="Block file made by 'anonlink block' for CLK_JSON.")
@click.option("--to_entityservice", is_flag=True, help="Upload directly to the entity service, not the object store.")
@click.option("--profile", help="AWS profile whose credentials sign the object store upload.")
@click.option("-o", "--output", help="File to write the upload receipt to (readable by you only); '-' for stdout.")
@service_options
def upload(
    clk_json: str,
    project: str,
    apikey: str,
    blocks: Optional[str],
    to_entityservice: bool,
    profile: Optional[str],
    output: Optional[str],
) -> None:
    """Upload CLK data (and blocks) to the Anonlink Entity Service.

    The files are checked first (base64 CLKs of one size, a block file made
    for as many records); nothing is sent if they do not fit.

    By default the encodings go through the service's object store: the
    service hands out temporary credentials, the files are uploaded with a
    progress bar (UPLOAD_OBJECT_STORE_SERVER=host:port overrides the store's
    address; --profile signs with an AWS profile's credentials instead), and
    the service is told where they are. With --to_entityservice, or when the
    service offers no object store, they are sent to the service directly.

    Without --blocks, every party of a project must upload the same way: if
    one party uploads directly and another through the object store, the
    service's default blocks do not line up and the run links nothing.

    If --apikey is not an upload token (e.g. the result token), the service
    answers the request for object store credentials with HTTP 500, the same
    answer as when its object store is turned off; the upload then goes
    directly to the service, which refuses the token with HTTP 403.
    """
    from anonlinkclient.upload import upload_encodings

    if is_verbose():
        log(f"Uploading CLK data from {clk_json}" + (f" with blocks from {blocks}" if blocks else ""))
        log(f"Project ID: {project}")
    detail = log if is_verbose() else None
    client = service_client()
    receipt = upload_encodings(client, project, apikey, clk_json, blocks, to_entityservice, profile, log, True, detail)
    if output is not None:
        write_json(receipt, output, private=True)
    if detail:
        log(f"Upload complete: {receipt.get('message', 'Updated')}")


@cli.command("results", short_help="fetch results from entity service")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("The project's result token.")
@click.option("--run", required=True, help="Run identifier.")
@click.option("-w", "--watch", is_flag=True, help="Follow the run's status until it finishes.")
@click.option("-o", "--output", default="-", show_default=True, help="File to write the result JSON to.")
@service_options
def results(project: str, apikey: str, run: str, watch: bool, output: str) -> None:
    """Check the status of a run and download its result once it is complete.

    With --watch, every change of the run's status is shown until it
    completes. A status query or the download that fails on the way (no
    answer, HTTP 5xx, a garbled answer) is reported and asked again, until
    they have failed for longer than --retry-max-time; a run that fails on the
    service stops the watch with the service's message. The result is the
    service's JSON, e.g. {"groups": [...]}.
    """
    from anonlinkclient.output import atomic_output
    from anonlinkclient.run_results import fetch_run_result

    text = fetch_run_result(service_client(), project, run, apikey, watch, log)
    with atomic_output(output) as out:
        out.write(text if text.endswith("\n") else text + "\n")


@cli.command("delete", short_help="delete a run on the anonlink entity service")
@click.option("--project", required=True, help="Project identifier.")
@click.option("--run", required=True, help="Run identifier.")
@apikey_option("The project's result token.")
@service_options
def delete(project: str, run: str, apikey: str) -> None:
    """Delete a run and its results on an entity matching server."""
    service_client().run_delete(project, run, apikey)
    log("Run deleted")


@cli.command("delete-project", short_help="delete a project on the anonlink entity service")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("The project's result token.")
@service_options
def delete_project(project: str, apikey: str) -> None:
    """Delete a project with all its uploads, runs and results on an entity matching server."""
    service_client().project_delete(project, apikey)
    log("Project deleted")


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, _frame: Any) -> None:
    raise Interrupted("SIGTERM", 128 + signum)


def main(args: Optional[list] = None) -> None:
    """Run the CLI; SIGTERM cleans up like Ctrl-C does."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    cli.main(args=args, prog_name="anonlink")
