"""Progress bars on stderr, for the work that takes long: hashing, blocking, linking, uploading.

Library functions take ``progress: bool`` (default off) and use :func:`bar`; the
command line turns it on when stderr is a terminal (never in a pipe, a log file
or a notebook cell, which cannot render it), with ``-v``, and off with ``--quiet``.
"""

import contextlib
import sys
from typing import IO, Any, Iterator, Optional


class NoBar:
    """Stands in for a tqdm bar when progress is off: every call does nothing."""

    def update(self, _count: int = 1) -> None:
        """Count ``_count`` more units (nothing to show)."""

    def set_postfix(self, **_values: Any) -> None:
        """Show extra values (nothing to show)."""

    def set_description(self, _text: str) -> None:
        """Change the label (nothing to show)."""


@contextlib.contextmanager
def bar(enabled: bool, desc: str, total: Optional[float] = None, unit: str = "it", **options: Any) -> Iterator[Any]:
    """A tqdm bar on stderr while the ``with`` block runs, or a :class:`NoBar` if not ``enabled``.

    :param desc: the label, e.g. ``"reading CLKs"``.
    :param total: the number of units, if known (else the bar counts and shows the rate).
    """
    if not enabled:
        yield NoBar()
        return
    from tqdm import tqdm

    with tqdm(desc=desc, total=total, unit=unit, unit_scale=True, file=sys.stderr, **options) as progress:
        yield progress


def is_terminal(stream: IO[Any]) -> bool:
    """Whether ``stream`` is a terminal (where a bar can be drawn)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ReadProgress:
    """A binary file that counts the bytes read from it on a bar (e.g. a request body being sent).

    :param handle: the file to read.
    :param progress: a tqdm bar (or :class:`NoBar`) counting bytes.
    """

    def __init__(self, handle: IO[bytes], progress: Any) -> None:
        self.handle = handle
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        """Read like the file does, counting the bytes."""
        data = self.handle.read(size)
        self.progress.update(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move in the file (a retry sends a body again from its start); the bar follows."""
        position = self.handle.seek(offset, whence)
        if hasattr(self.progress, "n"):
            self.progress.n = position
            self.progress.refresh()
        return position

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)
