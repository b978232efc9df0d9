"""Progress bars: drawn when stderr is a real terminal, never in a pipe, never with --quiet."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from anonlinkclient.rest_client import RestClient
from tests.helpers import data, random_clks, run_anonlink, write_clk_file
from tests.service.helpers import new_project

SECRET = "progress-secret"


def on_a_terminal(*args: str, env: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
    """Run ``anonlink ARGS`` with stderr on a pseudo-terminal; return its exit code and what the terminal showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a terminal 160 columns wide
    process = subprocess.Popen(
        [sys.executable, "-m", "anonlinkclient", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, **(env or {})},
    )
    os.close(follower)
    shown: List[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed when the process ended
            break
        if not chunk:
            break
        shown.append(chunk)
    os.close(leader)
    return process.wait(timeout=120), b"".join(shown).decode("utf-8", "replace")


@pytest.fixture
def two_parties(tmp_path: Path) -> Tuple[Path, Path]:
    pii = data("dirty_1000_50_1.csv")
    schema = data("dirty-data-schema.json")
    clks = tmp_path / "a.json", tmp_path / "b.json"
    for out in clks:
        assert run_anonlink("hash", pii, SECRET, schema, out, "--workers", "1").returncode == 0
    return clks


def test_hash_draws_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    args = ["hash", str(data("dirty_1000_50_1.csv")), SECRET, str(data("dirty-data-schema.json"))]
    code, shown = on_a_terminal(*args, str(tmp_path / "clks.json"), "--workers", "1")
    assert code == 0
    assert "generating CLKs: 100%" in shown
    assert "1.00k/1.00k" in shown
    assert shown.rstrip().endswith(f"CLK data written to {tmp_path / 'clks.json'}")

    code, shown = on_a_terminal(*args, str(tmp_path / "quiet.json"), "--workers", "1", "--quiet")
    assert (code, shown) == (0, f"CLK data written to {tmp_path / 'quiet.json'}\r\n")

    piped = run_anonlink(*args, tmp_path / "piped.json", "--workers", "1")
    assert (piped.returncode, piped.stderr) == (0, f"CLK data written to {tmp_path / 'piped.json'}\n")


def test_block_and_find_similarity_draw_bars_on_a_terminal(tmp_path: Path, two_parties: Tuple[Path, Path]) -> None:
    a, b = two_parties
    code, shown = on_a_terminal(
        "block", str(data("dirty_1000_50_1.csv")), str(data("p-sig-schema.json")), str(tmp_path / "blocks.json")
    )
    assert code == 0
    assert "reading records for p-sig blocking: 1.00krecord" in shown

    code, shown = on_a_terminal(
        "find-similarity", "0.9", str(tmp_path / "groups.json"), "--clk", str(a), "--clk", str(b)
    )
    assert code == 0
    assert f"reading {a}: 1.00kCLK" in shown
    assert "comparing: 100%" in shown
    assert "1.00M/1.00M" in shown  # 1000 x 1000 pairs compared

    code, shown = on_a_terminal(
        "find-similarity", "0.9", str(tmp_path / "quiet.json"), "--clk", str(a), "--clk", str(b), "-q"
    )
    assert code == 0
    assert "comparing" not in shown and "reading" not in shown


def test_a_direct_upload_draws_the_bytes_sent(entity_service, tmp_path: Path) -> None:
    project = new_project(RestClient(entity_service.url))
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(500))
    base = ["upload", "--server", entity_service.url, "--project", project["project_id"], "--to_entityservice"]
    code, shown = on_a_terminal(*base, str(clk_file), env={"ANONLINK_APIKEY": project["update_tokens"][0]})
    assert code == 0, shown
    assert "Upload clks.json: 100%" in shown
    assert f"{500 * 128 / 1024:.1f}k/{500 * 128 / 1024:.1f}k" in shown  # the binary format's bytes
    received = entity_service.uploads(project["project_id"])[0]
    assert received.count == 500
    assert json.loads(clk_file.read_text())["clks"][0]  # the file is untouched
