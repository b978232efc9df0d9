"""The ``block`` command: candidate blocks for a PII CSV or a CLK file."""

from typing import Optional

import click

from anonlinkclient.cli.options import (
    is_verbose,
    log,
    quiet_option,
    raw_clk_size_option,
    show_progress,
    source_options,
    verbose_option,
)


@click.command("block", short_help="generate candidate blocks from local PII data")
@click.argument("pii_csv")
@click.argument("schema")
@click.argument("block_json", required=False, metavar="BLOCK_JSON")
@click.option("--schema", "schema_option", metavar="SCHEMA", help="The blocking schema, instead of SCHEMA.")
@click.option("--no-header", is_flag=True, help="Don't skip the first row")
@raw_clk_size_option
@source_options
@quiet_option
@verbose_option
def block(
    pii_csv: str,
    schema: str,
    block_json: Optional[str],
    schema_option: Optional[str],
    no_header: bool,
    raw_clk_size: Optional[int],
    input_format: Optional[str],
    table: Optional[str],
    query: Optional[str],
    sheet: Optional[str],
    quiet: bool,
) -> None:
    """Process data to create blocking information

    Given a file containing CSV data as PII_CSV, and a JSON document defining
    the blocking configuration, then generate candidate blocks writing to JSON
    output. Note the CSV file should contain a header row - however this row is
    not used by this tool. Setting the verbose flag outputs more detailed
    blocking statistics.

    A lambda-fold schema with "input-clks": true blocks the CLK file made by
    "anonlink hash" (JSON or binary) instead of the CSV.

    PII_CSV may also be a Parquet file, an Excel workbook or a database URL
    with --table or --query (see "anonlink hash --help"); every column is
    read, typed values as text (dates as ISO 8601, 1990-01-02).

    For example:

        anonlink block pii.csv blocking-schema.json blocks.json

    Use "-" for BLOCK_JSON to write JSON to stdout.
    """
    from anonlinkclient.blocking.blocks import block_file, format_statistics
    from anonlinkclient.io.sources import PiiOptions

    if schema_option is not None:
        if block_json is not None:
            raise click.UsageError(
                f"with --schema give only PII_CSV and BLOCK_JSON, not three arguments "
                f"({pii_csv} {schema} {block_json}); blocking uses no secret"
            )
        schema, block_json = schema_option, schema
    elif block_json is None:
        raise click.UsageError("Missing argument 'BLOCK_JSON'.")
    where = PiiOptions(input_format, table, query, sheet)
    result = block_file(pii_csv, schema, block_json, not no_header, show_progress(quiet), raw_clk_size, where)
    for line in format_statistics(result, verbose=is_verbose()):
        log(line)


COMMANDS = [block]
