"""Writing output files so that a failed or interrupted command leaves nothing behind and destroys nothing.

:func:`check_outputs` is what every command calls before it starts working: it
refuses an output that is one of the command's inputs (the same file by any
name: a symlink or a hard link to it too), two outputs that are one file, an
output that is a directory, and one whose directory is missing or not
writable, so that no work (and no request to a service) is done for nothing.

:func:`atomic_output` writes a regular file into a temporary file in the
destination's directory and renames it into place only when the ``with`` block
finishes without an error. If anything goes wrong, including Ctrl-C or
SIGTERM, the temporary file is removed and a previous file of the same name is
left untouched. The file replaced keeps its permissions (a ``0600`` file stays
``0600``; a new file gets the usual umask mode, or ``0600`` if it is private).
On Linux the temporary file has no name until it is complete (``O_TMPFILE``),
so even ``kill -9`` leaves nothing behind; elsewhere it is named
``.<name>.<pid>.<random>.part``, and such files of processes that no longer
run are removed the next time that output is written.

Outputs that are not regular files (``-`` for stdout, ``/dev/stdout``, a
device, a FIFO) are never replaced by a rename: what is written is kept in a
temporary file and copied to them when the ``with`` block succeeds, so on
failure they get nothing at all (no cut-off JSON).
"""

import codecs
import contextlib
import errno
import io
import os
import re
import shutil
import stat
import sys
import tempfile
from typing import IO, Iterator, List, Optional, Sequence

from anonlinkclient.errors import OutputFileError

STDOUT = "-"
# Errors of writing or renaming the output itself (others come from the caller's work).
WRITE_FAILURES = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EIO,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.EXDEV,
}
#: Paths written directly (after the work), never replaced: they name devices or open files.
SPECIAL_DIRECTORIES = ("/dev/", "/proc/")
COPY_BYTES = 1 << 20


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _is_regular_or_new(path: str) -> bool:
    """Whether ``path`` is a regular file (following symlinks) or does not exist yet."""
    if path.startswith(SPECIAL_DIRECTORIES):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def check_output(path: str) -> None:
    """Check that ``path`` can be written as an output, before any work.

    ``-``, devices and FIFOs pass (they are written directly).

    :raises OutputFileError: if ``path`` is a directory, or its directory is
        missing or not writable.
    """
    if path == STDOUT or path.startswith(SPECIAL_DIRECTORIES):
        return
    try:
        mode: Optional[int] = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputFileError(path, f"cannot write output file ({exc.strerror})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputFileError(path, "is a directory; give the name of a file to write")
    if mode is not None and not stat.S_ISREG(mode):
        return
    directory = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(directory):
        raise OutputFileError(path, f"cannot create output file ({os.strerror(errno.ENOENT)})")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputFileError(path, f"cannot create output file ({os.strerror(errno.EACCES)})")


def check_outputs(outputs: Sequence[Optional[str]], inputs: Sequence[Optional[str]] = ()) -> None:
    """Check, before any work, that the outputs of a command can be written and destroy none of its inputs.

    :param outputs: the output paths (``None`` entries are skipped, ``-`` is stdout).
    :param inputs: the paths the command reads (``None`` and ``-`` entries are skipped).
    :raises OutputFileError: naming the first output that is an input (by any
        name, symlinks and hard links included), is given twice, is a
        directory, or is in a missing or unwritable directory.
    """
    seen: List[str] = []
    for output in outputs:
        if output is None or output == STDOUT:
            continue
        if _is_regular_or_new(output):
            for source in inputs:
                if source is not None and source != STDOUT and _same_file(output, source):
                    raise OutputFileError(output, f"is also an input ({source}); writing it would destroy that input")
            for other in seen:
                if _same_file(output, other):
                    raise OutputFileError(output, f"is given for two outputs ({other} too)")
        check_output(output)
        seen.append(output)


@contextlib.contextmanager
def atomic_output(path: str, private: bool = False) -> Iterator[IO[str]]:
    """Open ``path`` for writing text, committing it only on success.

    :param path: the destination file, or ``-`` for stdout.
    :param private: create the file readable and writable by its owner only
        (for files that hold tokens or credentials).
    :raises OutputFileError: if the file cannot be created, written or renamed.
    """
    if not _is_regular_or_new(path) or path == STDOUT:
        with _spooled(path) as handle:
            yield handle
        return
    check_output(path)
    target = os.path.realpath(path)  # through a symlink: replace the file it names, keep the link
    directory, name = os.path.split(target)
    _sweep_stale_parts(directory, name)
    try:
        existing: Optional[os.stat_result] = os.stat(target)
    except OSError:
        existing = None
    try:
        temporary = _TemporaryOutput(directory, name, _mode(existing, private), existing)
    except OSError as exc:
        raise OutputFileError(path, f"cannot create output file ({exc.strerror})") from exc
    committed = False
    try:
        with open(temporary.fd, "w", encoding="utf-8", newline="\n", closefd=False) as handle:
            yield handle
        try:
            temporary.commit(target)
        except OSError as exc:
            raise OutputFileError(path, f"cannot write output file ({exc.strerror})") from exc
        committed = True
    except OSError as exc:
        if exc.errno not in WRITE_FAILURES:
            raise
        raise OutputFileError(path, f"cannot write output file ({exc.strerror})") from exc
    finally:
        if not committed:
            temporary.discard()


def _mode(existing: Optional[os.stat_result], private: bool) -> int:
    """The permissions of the new file: those of the file it replaces (only the owner's, if private)."""
    if existing is not None:
        mode = stat.S_IMODE(existing.st_mode)
        return mode & 0o700 if private else mode
    if private:
        return 0o600
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class _TemporaryOutput:
    """The file being written: unnamed (``O_TMPFILE``) where the system allows, else a named ``.part`` file."""

    def __init__(self, directory: str, name: str, mode: int, existing: Optional[os.stat_result]) -> None:
        self.directory = directory
        self.name = name
        self.part_path: Optional[str] = None
        self.fd = self._open(mode)
        try:
            os.fchmod(self.fd, mode)  # the umask does not apply to an output that replaces a file
            if existing is not None and os.geteuid() == 0:
                with contextlib.suppress(OSError):
                    os.fchown(self.fd, existing.st_uid, existing.st_gid)
        except BaseException:
            self.discard()
            raise

    def _open(self, mode: int) -> int:
        unnamed = getattr(os, "O_TMPFILE", 0)
        if unnamed and os.path.isdir("/proc/self/fd"):
            try:
                return os.open(self.directory, unnamed | os.O_WRONLY, mode)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                    raise
        fd, self.part_path = tempfile.mkstemp(prefix=f".{self.name}.{os.getpid()}.", suffix=".part", dir=self.directory)
        return fd

    def commit(self, target: str) -> None:
        """Put the finished file in place of ``target``."""
        if self.part_path is None:
            part = f".{self.name}.{os.getpid()}.{os.urandom(4).hex()}.part"
            # Give the unnamed file a name, for the rename: linkat(2) following the /proc link
            # (a directory descriptor makes Python call linkat, not link).
            directory = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                os.link(f"/proc/self/fd/{self.fd}", part, dst_dir_fd=directory, follow_symlinks=True)
            finally:
                os.close(directory)
            self.part_path = os.path.join(self.directory, part)
        os.close(self.fd)
        self.fd = -1
        os.replace(self.part_path, target)
        self.part_path = None

    def discard(self) -> None:
        """Remove the unfinished file."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if self.part_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.part_path)
            self.part_path = None


def _sweep_stale_parts(directory: str, name: str) -> None:
    """Remove ``.<name>.<pid>.*.part`` files in ``directory`` left by processes that no longer run."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[^/]*\.part")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is not None and not _running(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, entry))


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # another user's process, or an odd pid: leave its file alone
        return True
    return True


@contextlib.contextmanager
def _spooled(path: str) -> Iterator[IO[str]]:
    """Text written for stdout or a non-regular file, kept aside and copied there only on success."""
    shown = "stdout" if path == STDOUT else path
    try:
        spool = tempfile.TemporaryFile("w+b")
    except OSError as exc:
        raise OutputFileError(shown, f"cannot create a temporary file for the output ({exc.strerror})") from exc
    with spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="\n")
        try:
            yield text
            text.flush()
        except OSError as exc:
            if exc.errno not in WRITE_FAILURES:
                raise
            raise OutputFileError(shown, f"cannot write the output to a temporary file ({exc.strerror})") from exc
        finally:
            with contextlib.suppress(OSError, ValueError):
                text.detach()
        spool.seek(0)
        if path in (STDOUT, "/dev/stdout"):
            _copy_to_stdout(spool)
            return
        try:
            with open(path, "ab") as out:
                shutil.copyfileobj(spool, out, COPY_BYTES)
        except OSError as exc:
            raise OutputFileError(path, f"cannot write output file ({exc.strerror})") from exc


def _copy_to_stdout(spool: IO[bytes]) -> None:
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is not None:
        shutil.copyfileobj(spool, binary, COPY_BYTES)
        binary.flush()
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    while chunk := spool.read(COPY_BYTES):  # a text-only stdout (an embedding program's)
        sys.stdout.write(decoder.decode(chunk))
    sys.stdout.write(decoder.decode(b"", final=True))
    sys.stdout.flush()
