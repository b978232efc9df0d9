"""Outputs never destroy data: inputs are never overwritten, odd paths are refused before the work,
devices and FIFOs are written, not replaced, modes are kept, and nothing is left behind."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from anonlinkclient.errors import OutputFileError
from anonlinkclient.io.output import atomic_output, check_outputs


def files_in(directory: Path) -> dict:
    """Every file of ``directory`` with its bytes (symlinks as their target)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        if path.is_symlink():
            found[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "not a regular file"
    return found


# ---- check_outputs: before any work ----


def test_an_output_that_is_an_input_by_any_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("in.csv").write_text("data")
    os.symlink("in.csv", "link.csv")
    os.link("in.csv", "hard.csv")
    for output, message in [
        ("in.csv", "in.csv: is also an input (in.csv); writing it would destroy that input"),
        ("./in.csv", "./in.csv: is also an input (in.csv); writing it would destroy that input"),
        (
            str(tmp_path / "in.csv"),
            f"{tmp_path}/in.csv: is also an input (in.csv); writing it would destroy that input",
        ),
        ("link.csv", "link.csv: is also an input (in.csv); writing it would destroy that input"),
        ("hard.csv", "hard.csv: is also an input (in.csv); writing it would destroy that input"),
    ]:
        with pytest.raises(OutputFileError) as caught:
            check_outputs([output], ["schema.json", "in.csv"])
        assert str(caught.value) == message
    assert Path("in.csv").read_text() == "data"


def test_two_outputs_that_are_one_file_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputFileError) as caught:
        check_outputs(["groups.json", "./groups.json"])
    assert str(caught.value) == "./groups.json: is given for two outputs (groups.json too)"
    check_outputs(["-", "-", None, "a.json", "b.json"])  # stdout twice is the caller's call


def test_outputs_that_cannot_be_written_are_refused_before_the_work(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for output, message in [
        (tmp_path, f"{tmp_path}: is a directory; give the name of a file to write"),
        (
            tmp_path / "missing" / "out.json",
            f"{tmp_path}/missing/out.json: cannot create output file (No such file or directory)",
        ),
        (
            tmp_path / "file.txt" / "out.json",
            f"{tmp_path}/file.txt/out.json: cannot write output file (Not a directory)",
        ),
    ]:
        with pytest.raises(OutputFileError) as caught:
            check_outputs([str(output)])
        assert str(caught.value) == message


def test_devices_and_fifos_are_not_compared_with_inputs(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    check_outputs(["/dev/null", str(fifo), "/dev/stdout"], ["/dev/null", str(fifo), "/dev/stdin"])


# ---- atomic_output ----


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o755])
def test_rewriting_a_file_keeps_its_mode(tmp_path, mode):
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(mode)
    with atomic_output(str(out)) as handle:
        handle.write("new")
    assert out.read_text() == "new"
    assert stat.S_IMODE(out.stat().st_mode) == mode


def test_a_private_output_is_for_its_owner_only_new_or_rewritten(tmp_path):
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    old.write_text("old")
    old.chmod(0o644)
    for path in (new, old):
        with atomic_output(str(path), private=True) as handle:
            handle.write("token")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_output_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_output(str(tmp_path / "out.json")) as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o640


def test_writing_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real.json").write_text("old")
    os.symlink("real.json", tmp_path / "link.json")
    with atomic_output(str(tmp_path / "link.json")) as handle:
        handle.write("new")
    assert files_in(tmp_path) == {"link.json": "-> real.json", "real.json": b"new"}


def test_the_unfinished_output_has_no_name_and_a_failure_leaves_nothing(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("previous")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(str(out)) as handle:
            handle.write("partial")
            handle.flush()
            assert files_in(tmp_path) == {"out.json": b"previous"}  # O_TMPFILE: no .part file at all
            raise KeyboardInterrupt
    assert files_in(tmp_path) == {"out.json": b"previous"}


def test_stale_part_files_of_dead_processes_are_swept(tmp_path):
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has this pid
    alive = os.getppid()
    names = [f".out.json.{dead}.abc123.part", f".out.json.{alive}.def456.part", f".other.json.{dead}.x.part"]
    for name in names:
        (tmp_path / name).write_text("stale")
    with atomic_output(str(tmp_path / "out.json")) as handle:
        handle.write("new")
    assert sorted(files_in(tmp_path)) == sorted(["out.json", names[1], names[2]])


def test_a_device_is_written_not_replaced():
    with atomic_output("/dev/null") as handle:
        handle.write("discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_written_not_replaced_and_gets_nothing_on_failure(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with atomic_output(str(fifo)) as handle:
        handle.write('{"clks": []}')
    reader.join(10)
    assert received == [b'{"clks": []}']
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    with pytest.raises(ValueError):
        with atomic_output(str(fifo)) as handle:  # no reader needed: nothing is opened on failure
            handle.write("cut off")
            raise ValueError("a bad row")
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # and opening it would have blocked without a reader


def test_dev_stdout_is_written_through_not_replaced(tmp_path):
    out = tmp_path / "redirected.json"
    code = (
        "from anonlinkclient.io.output import atomic_output\n"
        "with atomic_output('/dev/stdout') as handle:\n"
        "    handle.write('{\"groups\": []}\\n')\n"
    )
    with open(out, "w") as stdout:
        done = subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == '{"groups": []}\n'
    assert files_in(tmp_path) == {"redirected.json": b'{"groups": []}\n'}


def test_stdout_gets_the_output_only_when_it_is_complete(capfd):
    with atomic_output("-") as handle:
        handle.write("é complete\n")
    assert capfd.readouterr().out == "é complete\n"
    with pytest.raises(ValueError):
        with atomic_output("-") as handle:
            handle.write("x" * 100_000)
            raise ValueError("row 7 is bad")
    assert capfd.readouterr().out == ""


def test_a_write_failure_names_the_output(tmp_path):
    with pytest.raises(OutputFileError) as caught:
        with atomic_output("/dev/full") as handle:
            handle.write("x")
    assert str(caught.value) == "/dev/full: cannot write output file (No space left on device)"
