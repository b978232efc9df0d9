"""The ``anonlink`` command line tool.

Each command is a thin adapter (in :mod:`.encoding`, :mod:`.blocking`,
:mod:`.linkage`, :mod:`.report`, :mod:`.service` and :mod:`.audit`): it parses options, calls one library
function, and reports. Every expected failure is an
:class:`~anonlinkclient.errors.AnonlinkClientError`; :class:`AnonlinkGroup` is
the one boundary that turns it into ``Error: <one line>`` on stderr and the
error's exit code (adding the hints in :data:`HINTS`, which speak of options
and commands the library does not know), and turns Ctrl-C and SIGTERM into a
short message instead of a traceback. It is also where the library's messages
(module loggers) are shown: for each run, one handler writes them on stderr,
``-v`` adding the ``INFO`` ones (see :func:`~.options.messages_to_stderr`).
Heavy libraries are imported inside the commands, so ``--help`` and
``--version`` answer quickly.
"""

import signal
import sys
from typing import Any, Dict, List, Optional, Type

import click

from anonlinkclient import __version__
from anonlinkclient.cli import audit, blocking, encoding, linkage, report, service
from anonlinkclient.cli.options import messages_to_stderr, verbose_option
from anonlinkclient.errors import (
    AnonlinkClientError,
    BlockingDisabled,
    EncodingsDiffer,
    EncodingSizeMismatch,
    Interrupted,
    NotAnUploadToken,
    RunNotComplete,
)

#: What the command line adds to a library error's message, by error class (the first that fits).
HINTS: Dict[Type[AnonlinkClientError], str] = {
    RunNotComplete: "; use --watch to wait for it",
    NotAnUploadToken: " as --apikey (or ANONLINK_APIKEY)",
    BlockingDisabled: ": upload without --blocks, or to a project created with 'anonlink create-project --blocked'",
    EncodingSizeMismatch: " ('anonlink compare SCHEMA1 SCHEMA2' shows how two schemas differ)",
    EncodingsDiffer: "; give --force to link them anyway",
}


def command_failed(error: AnonlinkClientError) -> click.ClickException:
    """A known error as click shows it: ``Error: <message><hint>``, with the error's exit code."""
    hint = next((text for kind, text in HINTS.items() if isinstance(error, kind)), "")
    failure = click.ClickException(f"{error}{hint}")
    failure.exit_code = error.exit_code  # type: ignore[misc]
    return failure


class AnonlinkGroup(click.Group):
    """The command group: shows the library's messages, and maps known errors and interruptions
    to messages and exit codes."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line (as click does), with the library's messages on stderr while it runs."""
        with messages_to_stderr():
            return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning every known error into one line and its exit code."""
        try:
            return super().invoke(ctx)
        except AnonlinkClientError as exc:
            raise command_failed(exc) from exc
        except KeyboardInterrupt:
            raise command_failed(Interrupted()) from None
        except BrokenPipeError:
            # The reader of our stdout went away (e.g. `| head`); nothing to report.
            sys.stderr.close()
            ctx.exit(1)


@click.group("anonlink", cls=AnonlinkGroup)
@click.version_option(__version__, "--version", prog_name="anonlink")
@verbose_option
def cli() -> None:
    """This command line application allows a user to hash their data into
    cryptographic longterm keys for use in private comparison.

    This tool can also interact with an entity matching service; creating new
    mappings, uploading locally hashed data, watching progress, and retrieving
    results.

    Example:

        anonlink hash private_data.csv secret schema.json output-clks.json
    """


def _register(commands: List[click.Command]) -> None:
    for command in commands:
        cli.add_command(command)


for _module in (encoding, blocking, linkage, report, service, audit):
    _register(_module.COMMANDS)

for _name, _command in encoding.ALIASES.items():
    _alias = click.Command(
        _name,
        params=_command.params,
        callback=_command.callback,
        help=_command.help,
        short_help=f"same as '{_command.name}'",
    )
    cli.add_command(_alias)


def _raise_on_sigterm(signum: int, _frame: Any) -> None:
    raise Interrupted("SIGTERM", 128 + signum)


def main(args: Optional[list] = None) -> None:
    """Run the CLI; SIGTERM cleans up like Ctrl-C does."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    cli.main(args=args, prog_name="anonlink")
