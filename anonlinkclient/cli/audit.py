"""The ``audit`` command: attack your own CLKs before sharing them, and see how much leaks."""

from typing import Optional, Tuple

import click

from anonlinkclient.cli.options import columns_option, log, source_options, verbose_option, workers_option
from anonlinkclient.errors import UsageError

#: The library's usage errors of the audit, said in terms of the command's options.
IN_OPTIONS_WORDS = {
    "output": "REPORT_HTML holds plaintext values: give a file, not '-'",
}


@click.command("audit", short_help="attack your own CLKs and report what leaks")
@click.argument("pii_csv")
@click.argument("secret")
@click.argument("schema")
@click.argument("report_html")
@click.option(
    "--clks",
    "clk_file",
    metavar="CLK_FILE",
    help="Audit this CLK file (made from PII_CSV with SECRET and SCHEMA) instead of hashing PII_CSV again.",
)
@click.option("--json", "json_output", metavar="FILE", help="Also write the figures as JSON to FILE.")
@click.option(
    "--reference",
    metavar="CSV",
    help="The attacker's list for the realistic scenario: a CSV whose header names some of the schema's "
    "features (and optionally 'count', how many people each row stands for), e.g. a public list or a "
    "disjoint sample.",
)
@click.option(
    "--compare",
    multiple=True,
    metavar="SCHEMA",
    help="Also audit the same records hashed with this linkage schema, side by side (repeat for more).",
)
@click.option("--no-header", is_flag=True, help="PII_CSV has no header row.")
@source_options
@columns_option
@workers_option
@verbose_option
def audit(
    pii_csv: str,
    secret: str,
    schema: str,
    report_html: str,
    clk_file: Optional[str],
    json_output: Optional[str],
    reference: Optional[str],
    compare: Tuple[str, ...],
    no_header: bool,
    input_format: Optional[str],
    table: Optional[str],
    query: Optional[str],
    sheet: Optional[str],
    columns: Optional[str],
    workers: Optional[int],
) -> None:
    """Attack your own CLKs before sharing them, and report how much leaks

    Hashes PII_CSV with SECRET and SCHEMA as "anonlink hash" does (or reads
    the CLKs of --clks), then runs two published attacks on the CLKs with
    only what someone without the secret has: frequency alignment (Christen
    et al., PAKDD 2017) and pattern mining (Christen et al., PAKDD 2018). In
    the worst case the attacker's list of values is PII_CSV itself; with
    --reference, also the list given. The attacks' guesses are then scored
    with the truth: q-grams whose bit positions were found, and records whose
    value was re-identified.

    REPORT_HTML is one self-contained HTML page: the verdict, a chart of the
    risk per feature and attack, the figures, a census of what the CLKs give
    away, and what to change. It holds plaintext values the attacks
    recovered, so it is written readable by you only; nothing is printed
    but figures.

    For example:

    \b
        anonlink audit pii.csv env:SECRET schema.json audit.html --json audit.json
        anonlink audit pii.csv env:SECRET schema.json audit.html --reference names.csv --compare hardened.json

    PII_CSV may also be a Parquet file, an Excel workbook or a database URL
    with --table or --query, read as "anonlink hash" reads them.

    Give SECRET as env:NAME or file:PATH to keep it out of your shell history.
    """
    from anonlinkclient.audit.page import audit_report, format_summary
    from anonlinkclient.encoding.pii import parse_column_mapping
    from anonlinkclient.encoding.secrets import resolve_secret
    from anonlinkclient.io.sources import PiiOptions, is_typed

    secret_file = secret[len("file:") :] if secret.startswith("file:") else None
    if no_header and is_typed(pii_csv, input_format):
        raise click.UsageError("--no-header is for CSV files; this input names its columns")
    try:
        report = audit_report(
            pii_csv,
            resolve_secret(secret),
            schema,
            report_html,
            json_output,
            reference,
            clk_file,
            compare,
            header=not no_header,
            workers=workers,
            inputs=[secret_file],
            options=PiiOptions(input_format, table, query, sheet),
            columns=parse_column_mapping(columns) if columns is not None else None,
        )
    except UsageError as exc:
        raise click.UsageError(IN_OPTIONS_WORDS.get(exc.argument or "", str(exc))) from None
    for line in format_summary(report):
        log(line)
    log(f"Report written to {report_html} (readable by you only: it holds plaintext values)")
    if json_output is not None:
        log(f"Figures written to {json_output}")


COMMANDS = [audit]
