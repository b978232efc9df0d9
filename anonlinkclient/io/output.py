"""Writing output files so that a failed or interrupted command leaves nothing behind.

:func:`atomic_output` writes to a temporary file next to the destination and
renames it into place only when the ``with`` block finishes without an error. If
anything goes wrong, including Ctrl-C or SIGTERM, the temporary file is removed
and a previous file of the same name is left untouched. ``-`` means stdout.
"""

import contextlib
import errno
import os
import sys
import tempfile
from typing import IO, Iterator

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


@contextlib.contextmanager
def atomic_output(path: str, private: bool = False) -> Iterator[IO[str]]:
    """Open ``path`` for writing text, committing it only on success.

    :param path: the destination file, or ``-`` for stdout (written directly).
    :param private: create the file readable and writable by its owner only
        (for files that hold tokens or credentials).
    :raises OutputFileError: if the file cannot be created or renamed.
    """
    if path == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise OutputFileError(path, f"cannot create output file ({exc.strerror})") from exc
    committed = False
    try:
        if not private:
            # mkstemp creates 0600; an ordinary output gets the usual umask mode.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        with open(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        os.replace(tmp_path, path)
        committed = True
    except OSError as exc:
        if exc.errno not in WRITE_FAILURES:
            raise
        raise OutputFileError(path, f"cannot write output file ({exc.strerror})") from exc
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)
