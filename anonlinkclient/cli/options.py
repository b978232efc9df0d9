"""What the commands share: messages on stderr, ``-v``, the service options, and writing a JSON answer.

Messages: the library says things through module loggers (``logging.getLogger(__name__)``;
``WARNING`` for a line always shown, ``INFO`` for a ``-v`` detail, the message being
exactly the line shown). :func:`messages_to_stderr` installs the one handler, on the
``anonlinkclient`` logger, for one run of the command line: it writes each message
as it is to stderr through click, warnings only, and ``INFO`` too once ``-v`` is
given (before or after the command name). The commands' own lines go the same way
(:func:`log`, or their module's logger).

:func:`service_options` adds the options of every command that talks to an
Entity Service and hands the command one
:class:`~anonlinkclient.service.settings.ServiceSettings` (parameter
``settings``), built from the options and their environment variables; the
defaults shown in ``--help`` are the library's.
"""

import contextlib
import functools
import logging
import math
import sys
from typing import Any, Callable, Iterator, Optional, TypeVar

import click

from anonlinkclient.service import settings as defaults

F = TypeVar("F", bound=Callable[..., Any])

#: The logger of the whole package: every module's logger is its child.
PACKAGE_LOGGER = "anonlinkclient"

logger = logging.getLogger(__name__)


class EchoHandler(logging.Handler):
    """Writes each message as it is (no level, no logger name) as a line on stderr, through click.

    stderr is looked up for each message, so click's ``CliRunner`` captures it. A failure to
    write is not hidden (as logging's handlers do): it reaches the command's error boundary.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's message to stderr."""
        click.echo(record.getMessage(), err=True)


@contextlib.contextmanager
def messages_to_stderr() -> Iterator[EchoHandler]:
    """During one run of the command line, show the package's messages on stderr: warnings,
    and ``INFO`` too after :func:`set_verbose`. The ``anonlinkclient`` logger is left as it
    was found afterwards (handlers, level, propagation), so runs in one process do not
    leak into each other or into library use."""
    package = logging.getLogger(PACKAGE_LOGGER)
    handler = EchoHandler()
    level, propagate = package.level, package.propagate
    package.addHandler(handler)
    package.setLevel(logging.WARNING)
    package.propagate = False  # shown once, even where the root logger has handlers
    try:
        yield handler
    finally:
        package.removeHandler(handler)
        package.setLevel(level)
        package.propagate = propagate


def set_verbose() -> None:
    """Show ``INFO`` messages too (``-v``)."""
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.INFO)


def log(message: str) -> None:
    """Say a line the user always sees, on stderr (stdout may be carrying data): a warning of the CLI's logger."""
    logger.warning(message)


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["verbose"] = True
        set_verbose()


def verbose_option(command: F) -> F:
    """``-v/--verbose`` on a command, equivalent to the global flag."""
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set_verbose,
        help="Script is more talkative",
    )(command)


def is_verbose() -> bool:
    """True if ``-v`` was given before or after the command name."""
    ctx = click.get_current_context()
    return bool(ctx.find_root().ensure_object(dict).get("verbose"))


def raw_clk_size_option(command: F) -> F:
    """``--raw-clk-size BYTES``: read CLK files as headerless binary (the Entity Service's format)."""
    return click.option(
        "--raw-clk-size",
        type=click.IntRange(min=1),
        metavar="BYTES",
        help="The CLK files are headerless binary (the Entity Service's format alone), each CLK BYTES bytes "
        "(the schema's clkConfig.l / 8). Without it a CLK file is read as JSON or as binary with a header.",
    )(command)


def clk_files_option(help_text: str) -> Callable[[F], F]:
    """``--clk CLK_JSON``, once per party (the command's ``clk_files`` parameter, a tuple of paths)."""
    return click.option("--clk", "clk_files", multiple=True, metavar="CLK_JSON", help=help_text)


def workers_option(command: F) -> F:
    """``--workers N``: worker processes (the command's ``workers`` parameter; ``None``: one per core)."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Worker processes (default: one per core; 1 starts no subprocess).",
    )(command)


def quiet_option(command: F) -> F:
    """``-q/--quiet``: no progress bar (the command's ``quiet`` parameter)."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="No progress bar (one is shown when stderr is a terminal).",
    )(command)


def show_progress(quiet: bool) -> bool:
    """Whether to draw progress bars: when stderr is a terminal, unless ``--quiet``.

    Never in a pipe, a log file or a notebook cell, which cannot render them.
    """
    from anonlinkclient.io import progress

    return not quiet and progress.is_terminal(sys.stderr)


def _check_server(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from anonlinkclient.service.rest_client import normalise_server_url

    try:
        normalise_server_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def service_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of every command that talks to an Entity Service: server, retry limits, timeout, TLS, ``-v``.

    The command receives them as one ``settings`` parameter (a
    :class:`~anonlinkclient.service.settings.ServiceSettings`), with its
    ``--apikey`` included if it has one.
    """

    @functools.wraps(command)
    def with_settings(
        *args: Any,
        server: str,
        retry_multiplier: int,
        retry_exponential_max: int,
        retry_max_time: int,
        timeout: float,
        insecure: bool,
        **kwargs: Any,
    ) -> Any:
        settings = defaults.ServiceSettings(
            server=server,
            apikey=kwargs.pop("apikey", None),
            retry=defaults.Retry(retry_multiplier, retry_exponential_max, retry_max_time),
            timeout=timeout,
            verify_tls=not insecure,
        )
        return command(*args, settings=settings, **kwargs)

    options = [
        click.option(
            "--server",
            envvar="ANONLINK_SERVER",
            show_envvar=True,
            default=defaults.DEFAULT_SERVER,
            show_default=True,
            callback=_check_server,
            help="Server address including protocol.",
        ),
        click.option(
            "--retry-multiplier",
            type=click.IntRange(min=0),
            default=defaults.DEFAULT_RETRY_MULTIPLIER_MS,
            show_default=True,
            help="<milliseconds> If receiving a 503 from server, minimum time between retries.",
        ),
        click.option(
            "--retry-exponential-max",
            type=click.IntRange(min=0),
            default=defaults.DEFAULT_RETRY_EXPONENTIAL_MAX_MS,
            show_default=True,
            help="<milliseconds> If receiving a 503 from server, maximum time between retries.",
        ),
        click.option(
            "--retry-max-time",
            type=click.IntRange(min=0),
            default=defaults.DEFAULT_RETRY_MAX_TIME_MS,
            show_default=True,
            help="<milliseconds> If receiving a 503 from server, stop retrying after this time.",
        ),
        click.option(
            "--timeout",
            envvar="ANONLINK_TIMEOUT",
            show_envvar=True,
            type=FiniteFloatRange(min=0, min_open=True),
            default=defaults.DEFAULT_TIMEOUT,
            show_default=True,
            help="<seconds> Wait this long for each whole answer of the server and its object store "
            f"(and at most {defaults.MAX_CONNECT_TIMEOUT:g} s for a connection).",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            help="Do not verify the TLS certificates of the server and its object store (testing only).",
        ),
    ]
    wrapped: Callable[..., Any] = with_settings
    for option in reversed(options):
        wrapped = option(wrapped)
    return verbose_option(wrapped)


def apikey_option(help_text: str) -> Callable[[F], F]:
    """``--apikey``, also read from ``ANONLINK_APIKEY`` so that it need not appear in the process list."""
    return click.option(
        "--apikey", envvar="ANONLINK_APIKEY", show_envvar=True, required=True, metavar="TOKEN", help=help_text
    )


def service_client(settings: "defaults.ServiceSettings") -> Any:
    """The :class:`~anonlinkclient.service.rest_client.RestClient` of ``settings`` (saying so with ``-v``)."""
    from anonlinkclient.service.rest_client import RestClient

    client = RestClient.from_settings(settings)
    logger.info(f"Connecting to Entity Matching Server: {client.server}")
    if settings.verify_tls is False and client.server.lower().startswith("https:"):
        logger.warning(f"Warning: not verifying the TLS certificate of {client.server} (--insecure)")
    return client


def write_json(
    document: Any, output: str, private: bool = False, indent: Optional[int] = 2, done: Optional[str] = None
) -> None:
    """Write a service answer as sorted JSON to ``output`` (``-``: stdout).

    :param done: what the service did (with the ids needed to find it, never a token), said if
        the answer cannot be written, e.g. ``"the project was created (project_id 3fa8...)"``.
    """
    import json

    from anonlinkclient.errors import OutputFileError
    from anonlinkclient.io.output import atomic_output

    try:
        with atomic_output(output, private=private) as out:
            json.dump(document, out, indent=indent, sort_keys=True)
            out.write("\n")
    except OutputFileError as exc:
        if done is None:
            raise
        raise OutputFileError(exc.path, f"{exc.message}, but {done}") from exc


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` and ``inf`` (which pass its bounds checks)."""

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        """The number, or a usage error naming the option if it is not finite or out of range."""
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


#: ``--columns``: features read from columns of other names (commands that read PII by name).
columns_option = click.option(
    "--columns",
    metavar="FEATURE=COLUMN,...",
    help="Read these features from columns of other names (for example dob=birth_date); "
    "the input's columns are then found by name.",
)


def source_options(command: F) -> F:
    """Where the PII is, when it is not a CSV: ``--input-format``, ``--table``, ``--query``, ``--sheet``."""
    options = [
        click.option(
            "--input-format",
            type=click.Choice(["csv", "parquet", "xlsx", "sql"]),
            help="The kind of the PII input, where its name does not say it. By default a .parquet or .pq file, "
            "or a directory of part files, is Parquet; .xlsx or .xlsm, Excel; a URL (postgresql://, sqlite:///), "
            "a database; anything else, CSV. (--format, where a command has it, is the output's.)",
        ),
        click.option("--table", metavar="NAME", help="With a database URL: the table to read (schema.table allowed)."),
        click.option("--query", metavar="SQL", help="With a database URL: the SELECT whose rows to read."),
        click.option("--sheet", metavar="NAME", help="With an Excel workbook: the sheet to read (default: the first)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
