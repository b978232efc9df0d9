"""The command line's one handler for the library's messages (module loggers), and ``-v``.

The library says things through ``logging.getLogger(__name__)``; the command line shows
them on stderr, the message alone: warnings always, ``INFO`` lines with ``-v`` (given
before or after the command name). Each run installs the handler and leaves logging as
it found it, so in-process runs (click's CliRunner) do not leak into each other.
"""

import logging
import socket
import subprocess
import sys

import pytest

from anonlinkclient.cli.options import EchoHandler
from tests.helpers import ROOT, run_anonlink, run_cli


@pytest.fixture
def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def connecting(url: str) -> str:
    return f"Connecting to Entity Matching Server: {url}\n"


def refused(url: str) -> str:
    failed = "Error: Getting the service status failed"
    return f"{failed}: cannot connect to the Entity Service at {url} (Connection refused)\n"


def package_logger_state() -> tuple:
    package = logging.getLogger("anonlinkclient")
    return list(package.handlers), package.level, package.propagate


@pytest.mark.parametrize("where", ["global", "per command"])
def test_v_shows_the_info_lines_in_process(closed_port_url, where):
    args = ["-v", "status", "--server", closed_port_url]
    if where == "per command":
        args = ["status", "-v", "--server", closed_port_url]
    result = run_cli(*args)
    assert result.exit_code == 6
    assert result.stderr == connecting(closed_port_url) + refused(closed_port_url)


def test_without_v_only_warnings_are_shown(closed_port_url):
    result = run_cli("status", "--server", closed_port_url)
    assert result.exit_code == 6
    assert result.stderr == refused(closed_port_url)
    insecure = run_cli("status", "--insecure", "--server", closed_port_url.replace("http:", "https:"))
    assert insecure.stderr.startswith(  # a warning: shown without -v
        f"Warning: not verifying the TLS certificate of {closed_port_url.replace('http:', 'https:')} (--insecure)\n"
    )


def test_v_does_not_leak_into_the_next_run_in_the_same_process(closed_port_url):
    before = package_logger_state()
    verbose = run_cli("-v", "status", "--server", closed_port_url)
    quiet = run_cli("status", "--server", closed_port_url)
    assert verbose.stderr == connecting(closed_port_url) + refused(closed_port_url)
    assert quiet.stderr == refused(closed_port_url)
    assert package_logger_state() == before  # no handler left behind, level and propagation restored


def test_a_failed_run_also_leaves_logging_as_it_was(closed_port_url):
    before = package_logger_state()
    assert run_cli("-v", "status", "--server", "not a url").exit_code == 2
    assert run_cli("-v", "nope").exit_code == 2
    assert package_logger_state() == before


def test_library_messages_after_a_run_reach_the_callers_logging(closed_port_url, caplog):
    run_cli("-v", "status", "--server", closed_port_url)
    with caplog.at_level(logging.INFO, logger="anonlinkclient"):
        logging.getLogger("anonlinkclient.service.upload").warning("a library warning")
        logging.getLogger("anonlinkclient.service.upload").info("a library detail")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "a library warning"),
        ("INFO", "a library detail"),
    ]


def test_v_as_a_real_subprocess(closed_port_url):
    verbose = run_anonlink("status", "-v", "--server", closed_port_url)
    assert verbose.returncode == 6
    assert verbose.stderr == connecting(closed_port_url) + refused(closed_port_url)
    quiet = run_anonlink("status", "--server", closed_port_url)
    assert quiet.returncode == 6
    assert quiet.stderr == refused(closed_port_url)


def test_messages_are_shown_once_when_the_embedding_program_configured_logging(closed_port_url):
    """A program that calls ``anonlinkclient.cli.main`` after ``logging.basicConfig`` sees no
    ``INFO:anonlinkclient...`` copies of the lines."""
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from anonlinkclient.cli import main\n"
        f"main(['-v', 'status', '--server', {closed_port_url!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 6
    assert done.stderr == connecting(closed_port_url) + refused(closed_port_url)


def test_the_handler_writes_the_message_alone(capsys):
    handler = EchoHandler()
    record = logging.LogRecord("anonlinkclient.x", logging.WARNING, __file__, 1, "Note: %s files", ("two",), None)
    handler.handle(record)
    assert capsys.readouterr().err == "Note: two files\n"
