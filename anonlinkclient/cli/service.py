"""Commands that talk to an Entity Service: ``status``, ``create-project``, ``create``, ``upload``,
``results``, ``delete`` and ``delete-project``."""

import codecs
import logging
from typing import IO, Optional

import click

from anonlinkclient.cli.options import (
    FiniteFloatRange,
    apikey_option,
    log,
    quiet_option,
    raw_clk_size_option,
    service_client,
    service_options,
    show_progress,
    write_json,
)
from anonlinkclient.service.settings import ServiceSettings

logger = logging.getLogger(__name__)


@click.command("status", short_help="get status of entity service")
@click.option("-o", "--output", default="-", show_default=True, help="Where to write the status JSON.")
@service_options
def status(output: str, settings: ServiceSettings) -> None:
    """Connect to an entity matching server and check the service status.

    Prints the service's answer, e.g. {"project_count": 3, "rate": 2205592, "status": "ok"}.
    """
    from anonlinkclient.io.output import check_outputs

    check_outputs([output])
    write_json(service_client(settings).server_get_status(), output, indent=None)


@click.command("create-project", short_help="create a linkage project on the entity service")
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
    result_type: str,
    schema: str,
    name: Optional[str],
    parties: int,
    blocked: bool,
    output: str,
    settings: ServiceSettings,
) -> None:
    """Create a new project on an entity matching server.

    The linkage schema is validated before anything is sent. The answer holds
    the project_id, the result_token (for creating runs and fetching results)
    and one upload token per party in update_tokens; it is written to OUTPUT,
    created readable by its owner only. Give each data provider the project_id
    and one upload token.
    """
    from anonlinkclient.encoding.schema import load_schema_document
    from anonlinkclient.io.output import check_outputs

    if parties > 2 and result_type != "groups":
        raise click.BadParameter(
            f"{parties} parties need --type groups (only groups supports more than 2 parties)",
            param_hint="'--parties'",
        )
    check_outputs([output], [schema])
    document = load_schema_document(schema)
    answer = service_client(settings).project_create(
        document, result_type, name, parties=parties, uses_blocking=blocked
    )
    done = f"the project was created (project_id {answer.get('project_id')}); its tokens are not shown"
    write_json(answer, output, private=True, done=done)
    log("Project created")


@click.command("create", short_help="create a run on the entity service")
@click.option("--name", help="Name to give this run.")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("The project's result token.")
@click.option(
    "-t",
    "--threshold",
    type=FiniteFloatRange(0, 1, min_open=True),
    required=True,
    help="Similarity (0 to 1] above which two records are a match.",
)
@click.option("-o", "--output", default="-", show_default=True, help="File to write the run's description to.")
@service_options
def create(name: Optional[str], project: str, threshold: float, output: str, settings: ServiceSettings) -> None:
    """Create a new run on an entity matching server.

    The run links the project's uploads at the given similarity threshold. Its
    description, with the run_id that 'results' and 'delete' need, is written
    to OUTPUT.
    """
    from anonlinkclient.io.output import check_outputs

    check_outputs([output])
    answer = service_client(settings).run_create(project, settings.token(), threshold, name)
    write_json(answer, output, private=True, done=f"the run was created (run_id {answer.get('run_id')})")


@click.command("upload", short_help="upload hashes to entity service")
@click.argument("clk_json", metavar="CLK_JSON")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("Your upload token (one of the project's update_tokens).")
@click.option("--blocks", metavar="BLOCK_JSON", help="Block file made by 'anonlink block' for CLK_JSON.")
@click.option("--to_entityservice", is_flag=True, help="Upload directly to the entity service, not the object store.")
@click.option("--profile", help="AWS profile whose credentials sign the object store upload.")
@click.option("-o", "--output", help="File to write the upload receipt to (readable by you only); '-' for stdout.")
@click.option(
    "--format",
    "wire_format",
    type=click.Choice(["binary", "json"]),
    default="binary",
    show_default=True,
    help="Send the CLKs in the service's binary format, or as JSON (what earlier versions sent).",
)
@raw_clk_size_option
@quiet_option
@service_options
def upload(
    clk_json: str,
    project: str,
    blocks: Optional[str],
    to_entityservice: bool,
    profile: Optional[str],
    output: Optional[str],
    wire_format: str,
    raw_clk_size: Optional[int],
    quiet: bool,
    settings: ServiceSettings,
) -> None:
    """Upload CLK data (and blocks) to the Anonlink Entity Service.

    The files are checked first (a whole CLK file, JSON or binary, of CLKs of
    one size; a block file made for as many records); nothing is sent if they
    do not fit. Where the service shows the project's linkage schema to the
    token (only the result token may see it), the CLKs' length and the schema
    fingerprint the file records are checked against it too.

    The CLKs are sent in the service's binary format (--format binary, about
    a quarter smaller than JSON): directly to /binaryclks, or as a binary
    encodings object in the object store. A JSON CLK file is converted on the
    way; --format json sends {"clks": [...]} instead. The file's metadata is
    never sent. Direct uploads with blocks are always JSON (clknblocks).

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
    answers with a bare HTTP 500, not 403; the upload stops there and says
    that the token is not an upload token of the project. Blocks sent to a
    project created without --blocked are refused (HTTP 403).

    With -v, the lines 0.1.5 printed come first: "Uploading CLK data from
    CLK_JSON", "Project ID: ..." and "Uploading CLK data to the server".
    """
    from anonlinkclient.encoding.schema import schema_meta_if_valid
    from anonlinkclient.io.output import check_outputs
    from anonlinkclient.service.upload import UploadOptions, upload_encodings

    check_outputs([output], [clk_json, blocks])
    # with -v, the lines of 0.1.5, which scripts look for
    logger.info(f"Uploading CLK data from {clk_json}")
    logger.info(f"Project ID: {project}")
    logger.info(f"Uploading {'CLK and Blocks' if blocks else 'CLK'} data to the server")
    options = UploadOptions(
        to_entityservice=to_entityservice,
        profile=profile,
        progress=show_progress(quiet),
        wire_format=wire_format,
        raw_clk_size=raw_clk_size,
        expected_meta=schema_meta_if_valid,
    )
    receipt = upload_encodings(service_client(settings), project, settings.token(), clk_json, blocks, options=options)
    if output is not None:
        write_json(receipt, output, private=True, done="the upload was stored; its receipt token is not shown")
    logger.info(f"Upload complete: {receipt.get('message', 'Updated')}")


@click.command("results", short_help="fetch results from entity service")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("The project's result token.")
@click.option("--run", required=True, help="Run identifier.")
@click.option("-w", "--watch", is_flag=True, help="Follow the run's status until it finishes.")
@click.option("-o", "--output", default="-", show_default=True, help="File to write the result JSON to.")
@service_options
def results(project: str, run: str, watch: bool, output: str, settings: ServiceSettings) -> None:
    """Check the status of a run and download its result once it is complete.

    With --watch, every change of the run's status is shown until it
    completes. A status query or the download that fails on the way (no
    answer, HTTP 5xx, a garbled answer) is reported and asked again, until
    they have failed for longer than --retry-max-time; a run that fails on the
    service stops the watch with the service's message. The result is the
    service's JSON, e.g. {"groups": [...]}.
    """
    from anonlinkclient.io.output import atomic_output, check_outputs
    from anonlinkclient.service.results import download_run_result

    check_outputs([output])
    with download_run_result(service_client(settings), project, run, settings.token(), watch) as result:
        with atomic_output(output) as out:
            copy_text(result, out)


@click.command("delete", short_help="delete a run on the anonlink entity service")
@click.option("--project", required=True, help="Project identifier.")
@click.option("--run", required=True, help="Run identifier.")
@apikey_option("The project's result token.")
@service_options
def delete(project: str, run: str, settings: ServiceSettings) -> None:
    """Delete a run and its results on an entity matching server."""
    service_client(settings).run_delete(project, run, settings.token())
    log("Run deleted")


@click.command("delete-project", short_help="delete a project on the anonlink entity service")
@click.option("--project", required=True, help="Project identifier.")
@apikey_option("The project's result token.")
@service_options
def delete_project(project: str, settings: ServiceSettings) -> None:
    """Delete a project with all its uploads, runs and results on an entity matching server."""
    service_client(settings).project_delete(project, settings.token())
    log("Project deleted")


def copy_text(source: IO[bytes], out: IO[str]) -> None:
    """Copy UTF-8 ``source`` to ``out`` a block at a time, ending it with a newline."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    last = ""
    while block := source.read(1 << 20):
        text = decoder.decode(block)
        out.write(text)
        last = text[-1:] or last
    out.write(decoder.decode(b"", final=True))
    if last != "\n":
        out.write("\n")


COMMANDS = [status, create_project, create, upload, results, delete, delete_project]
