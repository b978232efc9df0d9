"""Worker processes: how many to start, and that they end when the process that started them dies.

:func:`default_workers` is the number of worker processes the commands that use
them (``hash``, ``find-similarity``) start when none is given: one per core.

A worker of the hashing pool or of the linkage waits for work from its parent; if the parent is
killed outright (``kill -9``) it gets no word and would wait forever. :func:`exit_with_parent`,
called once in each worker as it starts, makes sure it does not:

* on Linux the kernel sends the worker ``SIGKILL`` the moment its parent dies
  (``prctl(PR_SET_PDEATHSIG)``, through :mod:`ctypes`);
* everywhere, a daemon thread waits for the parent to end, on the pipe that
  :mod:`multiprocessing` gives each child for that (or, outside
  :mod:`multiprocessing`, by polling the parent process id), and then ends the
  worker with ``os._exit``.
"""

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from typing import Optional

#: ``PR_SET_PDEATHSIG`` from ``<sys/prctl.h>``.
PR_SET_PDEATHSIG = 1
#: How often the fallback watchdog looks at the parent process id, in seconds.
POLL_SECONDS = 0.5
#: The exit status of a worker whose parent died.
ORPHAN_EXIT_STATUS = 1


def default_workers() -> int:
    """The number of worker processes used when none is given: one per core."""
    return os.cpu_count() or 1


def _kernel_kills_orphans() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; ``False`` where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _wait_for_parent(parent_pid: int) -> None:
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid == parent_pid:
        parent.join()  # returns when the parent has ended (its end of a pipe closed)
    else:
        while os.getppid() == parent_pid:
            threading.Event().wait(POLL_SECONDS)
    os._exit(ORPHAN_EXIT_STATUS)


def exit_with_parent(parent_pid: Optional[int] = None) -> None:
    """Make this process end as soon as its parent process ends (see the module's description).

    :param parent_pid: the parent to outlive no longer (default: the current parent).
    """
    parent_pid = os.getppid() if parent_pid is None else parent_pid
    _kernel_kills_orphans()
    if os.getppid() != parent_pid:  # the parent died before the kernel was asked
        os._exit(ORPHAN_EXIT_STATUS)
    threading.Thread(target=_wait_for_parent, args=(parent_pid,), name="exit-with-parent", daemon=True).start()
