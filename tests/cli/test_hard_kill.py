"""``kill -9`` of ``anonlink hash`` leaves no worker process running and no partial file.

The command runs as a real process with two workers; it is killed outright
(no handler runs) while it hashes. Its workers must end by themselves (they
watch their parent), and the unfinished output must leave nothing on disk.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from tests.cli.test_interrupts import wait_until_working
from tests.helpers import run_cli


def children(pid: int) -> List[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def large_pii(tmp_path_factory: pytest.TempPathFactory) -> List[str]:
    """Half a million people whose names never repeat (so no cache makes the hashing quick)."""
    directory = tmp_path_factory.mktemp("large")
    pii, schema = directory / "pii.csv", directory / "schema.json"
    assert run_cli("generate", 1, directory / "one.csv", "-s", schema).exit_code == 0
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    with open(pii, "w") as out:
        out.write("INDEX,NAME freetext,DOB YYYY/MM/DD,GENDER M or F\n")
        for i in range(500_000):
            name = (
                "".join(rng.choice(letters) for _ in range(12)) + " " + "".join(rng.choice(letters) for _ in range(9))
            )
            out.write(f"{i},{name},19{rng.randrange(10, 99)}/0{rng.randrange(1, 9)}/1{rng.randrange(0, 9)},M\n")
    return [str(pii), str(schema)]


@pytest.mark.slow
def test_kill_9_of_hash_leaves_no_worker_and_no_part_file(tmp_path, large_pii):
    out = tmp_path / "clks.json"
    command = [sys.executable, "-m", "anonlinkclient", "hash", large_pii[0], "secret", large_pii[1], str(out)]
    process = subprocess.Popen([*command, "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_working(process, tmp_path)
        started = time.monotonic() + 30
        while len(children(process.pid)) < 2 and time.monotonic() < started:  # the pool starts its workers
            time.sleep(0.05)
        workers = children(process.pid)
        assert len(workers) >= 2  # the pool's two workers (and perhaps its resource tracker)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in workers if alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()
        for pid in children(process.pid):  # only if the test failed: do not leave them behind
            os.kill(pid, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


def test_a_worker_whose_parent_is_killed_exits(tmp_path):
    code = (
        "import multiprocessing, os, sys, time\n"
        "from anonlinkclient.io.processes import exit_with_parent\n"
        "def work():\n"
        "    exit_with_parent()\n"
        "    time.sleep(600)\n"
        "if __name__ == '__main__':\n"
        "    child = multiprocessing.get_context('fork').Process(target=work)\n"
        "    child.start()\n"
        "    print(child.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    script = tmp_path / "parent.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        time.sleep(0.5)  # the child is waiting
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 30
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)
    finally:
        if parent.poll() is None:
            parent.kill()
        if "child" in locals() and alive(child):  # only if the test failed
            os.kill(child, signal.SIGKILL)
