"""The worker processes of multi-core linkage: they compare CLKs, nothing else.

A worker is started (spawned, as on Windows) by :mod:`anonlinkclient.linkage.parallel`
with a :class:`Job`: every party's CLKs in shared memory, packed (one row of
``stride`` bytes per CLK, zero-padded to a multiple of 8 bytes), and, for blocked
linkage, every party's rows in block order, also shared. It then takes tasks from its
parent, one at a time, and answers each with the candidate pairs it found.

A task is a list of *segments*, six numbers each: ``(party0, party1, lo0, hi0, lo1,
hi1)`` compares positions ``lo0 .. hi0-1`` of party0 with positions ``lo1 .. hi1-1``
of party1. A position is a row (unblocked linkage) or an index into the party's rows
in block order (blocked). Each segment is one call of anonlink's compiled Dice
kernel, ``dice_many_to_many``, the function ``anonlink.similarities.dice_coefficient``
calls, with the same arguments it would pass (the second side's popcounts, ``k`` =
the second side's size so that every pair at or above the threshold is kept): each
pair gets the similarity anonlink's own candidate generation gives it. The answer
holds the similarities and the positions *within* each segment, in the kernel's
order; the parent maps them to rows, sorts and removes duplicates (with NumPy).

Nothing here imports NumPy or runs anonlink's package ``__init__`` (which imports
NumPy and ``pkg_resources``): :func:`dice_kernel` loads only the compiled module.
That keeps a worker at about 17 MB of its own (besides the shared CLKs it reads)
instead of about 45 MB, which matters because the memory of a linkage is the sum
over all its processes.
"""

import importlib
import importlib.util
import os
import signal
import sys
import time
import types
from array import array
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

from anonlinkclient.io.processes import exit_with_parent

#: Numbers per segment in a task: party0, party1, lo0, hi0, lo1, hi1.
SEGMENT_FIELDS = 6
#: The compiled module of anonlink's Dice coefficient.
KERNEL = "anonlink.similarities._dice"

Task = Tuple[int, "array[int]"]  # (task number, segments: SEGMENT_FIELDS unsigned numbers each)


class Found(NamedTuple):
    """A worker's answer to a task: the candidate pairs of each segment, one after another.

    :ivar task: the task number.
    :ivar similarities: the similarity of each pair (``array('d')``).
    :ivar positions0: its position in the segment's first side, from 0 (``array('I')``).
    :ivar positions1: its position in the segment's second side.
    :ivar counts: how many pairs each segment gave, in segment order (``array('Q')``).
    :ivar cpu_seconds: the CPU time this worker has used so far.
    """

    task: int
    similarities: "array[float]"
    positions0: "array[int]"
    positions1: "array[int]"
    counts: "array[int]"
    cpu_seconds: float


class Failed(NamedTuple):
    """A worker's answer when a task raised: what was raised, in one line."""

    task: int
    error: str


class Job(NamedTuple):
    """What every worker of a linkage gets when it starts (shared memory, never copied).

    :ivar clks: each party's packed CLKs (a ``multiprocessing`` ``RawArray``).
    :ivar stride: bytes per packed CLK (a multiple of 8).
    :ivar orders: each party's rows in block order (``RawArray`` of unsigned 32-bit
        numbers), or ``None`` for unblocked linkage.
    :ivar threshold: the least similarity of a candidate pair.
    """

    clks: Sequence[Any]
    stride: int
    orders: Optional[Sequence[Any]]
    threshold: float


def dice_kernel() -> Any:
    """anonlink's compiled Dice module, loaded without running anonlink's package ``__init__``.

    Python imports a package before its modules, and anonlink's ``__init__``
    imports NumPy and ``pkg_resources``. Here the two packages are stood in for
    (by empty modules with the real directories as their path) only while the
    extension loads, and taken out again. Where that fails (a frozen program may
    keep its modules elsewhere), anonlink is imported the usual way.
    """
    if KERNEL in sys.modules:
        return sys.modules[KERNEL]
    spec = importlib.util.find_spec("anonlink") if "anonlink" not in sys.modules else None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if locations:
        stand_ins = {
            "anonlink": locations,
            "anonlink.similarities": [os.path.join(location, "similarities") for location in locations],
        }
        try:
            for name, path in stand_ins.items():
                package = types.ModuleType(name)
                package.__path__ = path
                sys.modules[name] = package
            return importlib.import_module(KERNEL)
        except ImportError:
            pass
        finally:
            for name in (KERNEL, *stand_ins):
                sys.modules.pop(name, None)
    return importlib.import_module(KERNEL)


class Comparer:
    """Runs tasks on the shared CLKs of one job.

    :param kernel: anonlink's compiled Dice module (:func:`dice_kernel`).
    """

    def __init__(self, kernel: Any, job: Job) -> None:
        self.kernel = kernel
        self.stride = job.stride
        self.threshold = job.threshold
        self.clks = [memoryview(raw).cast("B").cast("b") for raw in job.clks]
        self.orders = None if job.orders is None else [memoryview(raw).cast("B").cast("I") for raw in job.orders]
        self.popcounts: List[Optional[array[int]]] = [None] * len(self.clks)

    def _popcounts(self, party: int) -> "array[int]":
        """The popcount of each CLK of a party (computed by anonlink's kernel on first use)."""
        counts = self.popcounts[party]
        if counts is None:
            counts = self.popcounts[party] = self.kernel.popcount_arrays(self.clks[party], self.stride)
        return counts

    def _side(self, party: int, low: int, high: int) -> Tuple[memoryview, "array[int]"]:
        """The packed CLKs of positions ``low .. high-1`` of a party, and their popcounts."""
        clks, stride, popcounts = self.clks[party], self.stride, self._popcounts(party)
        if self.orders is None:  # rows in order: the shared memory itself
            return clks[low * stride : high * stride], popcounts[low:high]
        rows = self.orders[party][low:high]
        gathered = b"".join([clks[row * stride : (row + 1) * stride] for row in rows])
        return memoryview(gathered).cast("b"), array("I", map(popcounts.__getitem__, rows))

    def run(self, task: Task) -> Found:
        """Compare every segment of a task; the pairs at or above the threshold, segment by segment."""
        number, segments = task
        similarities, positions0, positions1 = array("d"), array("I"), array("I")
        counts = array("Q")
        for start in range(0, len(segments), SEGMENT_FIELDS):
            party0, party1, low0, high0, low1, high1 = segments[start : start + SEGMENT_FIELDS]
            first, _ = self._side(party0, low0, high0)
            second, popcounts = self._side(party1, low1, high1)
            size0, size1 = high0 - low0, high1 - low1
            before = len(similarities)
            self.kernel.dice_many_to_many(
                first,
                second,
                size0,
                size1,
                popcounts,
                self.stride,
                size1,
                self.threshold,
                similarities,
                positions0,
                positions1,
            )
            counts.append(len(similarities) - before)
        return Found(number, similarities, positions0, positions1, counts, time.process_time())


def serve(connection: Any, job: Job) -> None:
    """A worker's life: answer tasks from ``connection`` until it sends ``None`` (or the parent dies).

    Ctrl-C is for the parent alone (it reaches the whole process group): the
    parent stops the workers itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    comparer = Comparer(dice_kernel(), job)
    while True:
        task = connection.recv()
        if task is None:
            return
        try:
            answer: Any = comparer.run(task)
        except Exception as exc:  # a worker must answer; the parent raises it as one line
            answer = Failed(task[0], f"{type(exc).__name__}: {exc}")
        connection.send(answer)
