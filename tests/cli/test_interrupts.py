"""A command killed part way leaves no output file, says so in one line, and exits non-zero.

These run the real ``anonlink`` in a subprocess in its own session, and signal it
as a terminal's Ctrl-C does (SIGINT to the whole process group) or as a job
scheduler does (SIGTERM to the process).
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from tests.helpers import data, run_cli


@pytest.fixture(scope="module")
def large_pii(tmp_path_factory: pytest.TempPathFactory) -> List[str]:
    """A CSV that takes several seconds to hash, and its schema."""
    directory = tmp_path_factory.mktemp("large")
    pii, schema = directory / "pii.csv", directory / "schema.json"
    assert run_cli("generate", 100_000, pii, "-s", schema).exit_code == 0
    # Hashing runs at hundreds of thousands of records a second: take the records 20 times.
    records = pii.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    with pii.open("a", encoding="utf-8") as handle:
        for _ in range(19):
            handle.writelines(records)
    return [str(pii), str(schema)]


def start(args: List[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "anonlinkclient", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def writing_into(pid: int, directory: Path) -> bool:
    """Whether process ``pid`` has a file open in ``directory``: its output, unnamed until complete
    (O_TMPFILE, shown by /proc as ``directory/#inode (deleted)``) or a ``.part`` file."""
    if any(p.name.endswith(".part") for p in directory.iterdir()):
        return True
    try:
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(target.startswith(f"{directory}{os.sep}") for target in targets)


def wait_until_working(process: subprocess.Popen, output_dir: Path) -> None:
    """Wait until the command is writing (it has its temporary output file open)."""
    deadline = time.monotonic() + 30
    while not writing_into(process.pid, output_dir):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command never started writing"
        time.sleep(0.05)
    time.sleep(0.5)


@pytest.mark.parametrize(
    "how, exit_code, name",
    [("ctrl-c", 130, "SIGINT"), ("sigterm", 143, "SIGTERM")],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupted_hash_leaves_nothing(tmp_path, large_pii, how, exit_code, name, workers):
    out = tmp_path / "clks.json"
    process = start(["hash", large_pii[0], "secret", large_pii[1], str(out), "--workers", workers, "-v"])
    wait_until_working(process, tmp_path)

    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == exit_code
    assert stderr.splitlines()[-1] == f"Error: interrupted by {name}; no output was written"
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_interrupted_hash_keeps_the_previous_output(tmp_path, large_pii):
    out = tmp_path / "clks.json"
    out.write_text("earlier result")
    process = start(["hash", large_pii[0], "secret", large_pii[1], str(out)])
    wait_until_working(process, tmp_path)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert out.read_text() == "earlier result"
    assert [p.name for p in tmp_path.iterdir()] == ["clks.json"]


def interrupt_after(process: subprocess.Popen, seconds: float, how: str) -> str:
    """Signal a still-running command after ``seconds``; return its stderr."""
    time.sleep(seconds)
    assert process.poll() is None, "the command finished before it could be interrupted; give it more work"
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)[1]


@pytest.mark.parametrize("how, exit_code, name", [("ctrl-c", 130, "SIGINT"), ("sigterm", 143, "SIGTERM")])
def test_interrupted_block_leaves_nothing(tmp_path, large_pii, how, exit_code, name):
    out = tmp_path / "blocks.json"
    process = start(["block", large_pii[0], data("p-sig-schema.json"), str(out)])
    stderr = interrupt_after(process, 2.0, how)
    assert process.returncode == exit_code, stderr
    assert stderr.splitlines()[-1] == f"Error: interrupted by {name}; no output was written"
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def random_clk_files(tmp_path_factory: pytest.TempPathFactory) -> List[str]:
    """Two parties of 25,000 random CLKs: unblocked linkage takes several seconds."""
    directory = tmp_path_factory.mktemp("random_clks")
    paths = []
    for party in range(2):
        path = directory / f"clks_{party}.json"
        clks = (base64.b64encode(os.urandom(128)).decode() for _ in range(25_000))
        path.write_text(json.dumps({"clks": list(clks)}))
        paths.append(str(path))
    return paths


def linkage_workers(pid: int, count: int) -> List[int]:
    """The worker processes (spawned) of a running find-similarity, once ``count`` of them run."""
    from tests.cli.test_hard_kill import children

    deadline = time.monotonic() + 30
    while True:
        spawned = [child for child in children(pid) if b"multiprocessing.spawn" in _cmdline(child)]
        if len(spawned) >= count:
            return spawned
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.05)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def assert_all_ended(pids: List[int]) -> None:
    from tests.cli.test_hard_kill import alive

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if alive(pid)]
    for pid in left:  # only if the test failed: do not leave them behind
        os.kill(pid, signal.SIGKILL)
    assert left == []


@pytest.mark.parametrize("how, exit_code, name", [("ctrl-c", 130, "SIGINT"), ("sigterm", 143, "SIGTERM")])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupted_find_similarity_leaves_nothing(tmp_path, random_clk_files, how, exit_code, name, workers):
    out, scores = tmp_path / "groups.json", tmp_path / "scores.json"
    args = ["find-similarity", "0.6", str(out), "--scores", str(scores), "--workers", workers]
    process = start(args + ["--clk", random_clk_files[0], "--clk", random_clk_files[1]])
    if workers == "1":
        stderr = interrupt_after(process, 1.5, how)
        spawned: List[int] = []
    else:
        from tests.cli.test_hard_kill import children

        spawned = linkage_workers(process.pid, 2)
        helpers = children(process.pid)  # the workers and multiprocessing's resource tracker
        stderr = interrupt_after(process, 0.5, how)
        assert_all_ended(helpers)
    assert process.returncode == exit_code, stderr
    assert stderr.splitlines()[-1] == f"Error: interrupted by {name}; no output was written"
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []
    assert len(spawned) == (2 if workers == "2" else 0)


def test_kill_9_of_find_similarity_leaves_no_worker(tmp_path, random_clk_files):
    out = tmp_path / "groups.json"
    process = start(["find-similarity", "0.6", str(out), "--workers", "2", "--clk", random_clk_files[0],
                     "--clk", random_clk_files[1]])  # fmt: skip
    try:
        spawned = linkage_workers(process.pid, 2)
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert_all_ended(spawned)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []
