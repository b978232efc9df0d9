"""The Sphinx documentation builds with warnings as errors, and documents the whole CLI.

The CLI checks introspect the click group, so a command or option added later
without help text, or left out of docs/cli.rst, fails here.
"""

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import click
import pytest
from click.testing import CliRunner

from anonlinkclient.cli import cli
from tests.helpers import ROOT

DOCS = ROOT / "docs"
MANUAL_SECTIONS = [
    "Tutorials",
    "Command Line Tool",
    "Where your data lives",
    "Linkage Schema",
    "Hardening",
    "Privacy audit",
    "Blocking Schema",
    "File Formats",
    "Development",
    "Devops",
    "Rest Client API Documentation",
    "References",
]


def all_commands(group: click.Group = cli, prefix: str = "") -> Iterator[Tuple[str, click.Command]]:
    """(full name, command) of every command, descending into sub-groups."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


COMMANDS = list(all_commands())
COMMAND_IDS = [name for name, _ in COMMANDS]


def visible_options(command: click.Command) -> List[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def is_alias(command: click.Command) -> bool:
    """Commands registered a second time under another name (see ``cli.alias``)."""
    return (command.short_help or "").startswith("same as '")


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the HTML docs once, with warnings as errors."""
    out = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees")]
        + [str(DOCS), str(out / "html")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return out / "html"


def page_text(built: Path, page: str) -> str:
    """The text of a built page, tags removed and entities decoded."""
    raw = (built / page).read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", raw))
    # Sphinx typesets quotes and dashes in prose ("smart quotes"); compare with plain ones.
    return text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}))


def test_root_group_has_help() -> None:
    assert (cli.help or "").strip()
    assert all(option.help for option in visible_options(cli) if "--version" not in option.opts)


@pytest.mark.parametrize("name,command", COMMANDS, ids=COMMAND_IDS)
def test_every_command_and_option_has_help_text(name: str, command: click.Command) -> None:
    assert (command.short_help or "").strip(), f"anonlink {name} has no short help for 'anonlink --help'"
    assert (command.help or "").strip(), f"anonlink {name} has no help text"
    for option in visible_options(command):
        assert (option.help or "").strip(), f"anonlink {name} {'/'.join(option.opts)} has no help text"


@pytest.mark.parametrize("name,command", COMMANDS, ids=COMMAND_IDS)
def test_every_command_is_described_on_the_cli_page(name: str, command: click.Command) -> None:
    """The hand-written part of docs/cli.rst (before the generated reference) names every command."""
    prose = (DOCS / "cli.rst").read_text(encoding="utf-8").split(".. _cli-reference:")[0]
    assert re.search(rf"anonlink {re.escape(name)}(?![\w-])", prose), f"docs/cli.rst does not describe {name!r}"


def test_cli_page_shows_the_current_top_level_help() -> None:
    """The ``anonlink --help`` transcript on the CLI page is what the tool prints today."""
    rst = (DOCS / "cli.rst").read_text(encoding="utf-8")
    transcript = rst.split("    $ anonlink --help\n", 1)[1].split("\n\n\n", 1)[0]
    shown = "\n".join(line[4:] for line in transcript.splitlines()) + "\n"
    result = CliRunner().invoke(cli, ["--help"], prog_name="anonlink", terminal_width=80)
    assert result.exit_code == 0
    assert shown == result.output


@pytest.mark.slow
def test_sphinx_site_has_the_manuals_structure(built_docs: Path) -> None:
    raw = (built_docs / "index.html").read_text(encoding="utf-8")
    top_level = re.findall(r'<li class="toctree-l1"><a class="reference internal" href="[^"]+">([^<]+)</a>', raw)
    # The toctree appears in the page and again in the sidebar.
    assert list(dict.fromkeys(top_level)) == MANUAL_SECTIONS


@pytest.mark.slow
def test_cli_page_shows_every_command_and_option(built_docs: Path) -> None:
    text = page_text(built_docs, "cli.html")
    for name, command in COMMANDS:
        assert f"anonlink {name}" in text, name
        for option in visible_options(command):
            for flag in option.opts:
                assert flag in text, f"{name} {flag}"


def plain(docstring_line: str) -> str:
    """A docstring line as Sphinx shows it: reST roles and literals reduced to their text."""
    text = re.sub(r":[a-z:]+:`~?([^`<]+?)(?: <[^>]+>)?`", lambda m: m.group(1).split(".")[-1], docstring_line)
    return text.replace("``", "")


@pytest.mark.slow
def test_rest_client_page_is_generated_from_docstrings(built_docs: Path) -> None:
    import anonlinkclient.rest_client as rest_client

    text = page_text(built_docs, "rest_client.html")
    assert "class anonlinkclient.rest_client.RestClient" in text
    for name in ("server_get_status", "project_create", "run_create", "run_get_result_text", "wait_for_run"):
        method = getattr(rest_client.RestClient, name)
        assert f"{name}(" in text
        first_line = (method.__doc__ or "").strip().splitlines()[0]
        assert first_line and plain(first_line) in text, (name, plain(first_line))
    assert "anonlinkclient.utils.generate_clk_from_csv" in text


@pytest.mark.slow
def test_schema_pages_link_the_published_json_schemas(built_docs: Path) -> None:
    for name in ("v1.json", "v2.json", "v3.json", "blocking-schema.json"):
        assert json.loads((built_docs / "schemas" / name).read_text())
        assert (
            f'href="schemas/{name}"'
            in (built_docs / "linkage-schema.html").read_text() + (built_docs / "blocking-schema.html").read_text()
        )


@pytest.mark.slow
def test_tutorial_pages_show_precision_and_recall(built_docs: Path) -> None:
    for notebook in sorted((DOCS / "tutorial").glob("*.ipynb")):
        text = page_text(built_docs, f"tutorial/{notebook.stem}.html")
        assert re.search(r"[Pp]recision[:=] ?[01]\.\d+", text), notebook.name
        assert re.search(r"[Rr]ecall[:=] ?[01]\.\d+", text), notebook.name
