"""Candidate generation on every core: anonlink's candidate pairs, found by worker processes.

:func:`find_candidates_parallel` gives exactly what
``anonlink.candidate_generation.find_candidate_pairs`` gives with anonlink's Dice
coefficient for the same CLKs, threshold and blocks: the same pairs, the same
similarities, in the same order and the same array types, so the solver sees
the same input and builds the same groups. Why:

* anonlink compares, in every block (without blocking: one block of every
  record), the block's records of every two parties ``party0 < party1``, each
  party's in row order, and its Dice kernel gives a pair the same similarity
  whatever else is compared in the same call (``k`` is the second side's size,
  so no pair at or above the threshold is dropped);
* it merges what the blocks found in order of similarity (highest first), then
  ``party0``, ``party1``, ``row0``, ``row1``, and drops a pair found in several
  blocks. That is a total order of distinct pairs: the result is the *sorted
  set* of pairs at or above the threshold, however the comparisons are split.

So the comparisons are cut into tasks of about equal work (runs of rows of the
first party against tiles of the second, block by block), the workers call the
same kernel on them (:mod:`anonlinkclient.linkage.workers`), and the parent sorts
the union with NumPy and drops repeats: no Python runs per pair anywhere.

The workers are spawned (as they must be on Windows and in the frozen program)
and read the CLKs from shared memory (``multiprocessing`` ``RawArray``, a file
in ``/dev/shm`` that is deleted as soon as it is made, so nothing is left behind
even after ``kill -9``): the CLKs are in memory once, however many workers read
them. Each worker ends with its parent; Ctrl-C, SIGTERM or an error in the
parent ends them all at once.
"""

import contextlib
import itertools
import multiprocessing
import signal
from array import array
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
    cast,
    overload,
)

from bitarray import bitarray

from anonlinkclient.errors import WorkerFailed
from anonlinkclient.io.block_file import BlockId
from anonlinkclient.linkage.workers import SEGMENT_FIELDS, Failed, Found, Job, Task, serve

#: How workers are started: spawned everywhere, as Windows and the frozen program must.
START_METHOD = "spawn"
#: Below this many comparisons the linkage stays in one process (starting workers takes longer).
PARALLEL_FROM = 50_000_000
#: Tasks per worker: workers take the next task when done, so small late tasks even out the load.
TASKS_PER_WORKER = 16
MIN_TASK_COMPARISONS = 4_000_000
#: About a second of one core's work, so that Ctrl-C and progress are prompt.
MAX_TASK_COMPARISONS = 250_000_000
#: Rows of the first side a segment takes at least (each second-side CLK is fetched once per segment).
MIN_CHUNK_ROWS = 256
#: CLKs are read into shared memory through pieces of about this many bytes.
PIECE_BYTES = 1 << 20
#: A tile of the second side's CLKs stays in a core's cache while a run of first-side rows passes over it.
TILE_BYTES = 1 << 20

CandidatePairs = Tuple[Any, Tuple[Any, Any], Tuple[Any, Any]]
ProgressCallback = Callable[[int], None]


def packed_stride(clk_bytes: int) -> int:
    """Bytes per CLK in shared memory: ``clk_bytes`` rounded up to a multiple of 8.

    anonlink's kernel compares 8-byte words; its popcounts of CLKs of other sizes
    are wrong, so CLKs are padded with zero bytes (which change no popcount).
    """
    return max(8, -(-clk_bytes // 8) * 8)


class SharedClks(Sequence[bitarray]):
    """A party's CLKs packed in shared memory, one row of :attr:`stride` bytes each (zero-padded).

    Indexing gives a CLK as a bitarray (of its own length, without the padding),
    so it stands in for a list of bitarrays.

    :param clk_bytes: bytes per CLK.
    """

    def __init__(self, count: int, clk_bytes: int) -> None:
        self.length = count
        self.clk_bytes = clk_bytes
        self.stride = packed_stride(clk_bytes)
        self.raw: Any = multiprocessing.get_context(START_METHOD).RawArray("b", max(1, count * self.stride))
        self.view = memoryview(self.raw).cast("B")

    @classmethod
    def from_stream(cls, clks: Iterable[bytes], on_clk: Optional[Callable[[int], None]] = None) -> "SharedClks":
        """The CLKs of an iterable of bytes (all of one size), read once.

        Their number is known only at the end, so they are gathered in pieces of about
        a megabyte first: freed pieces of that size go back to the system at once,
        where one growing buffer would leave its memory with the process.

        :param on_clk: called with 1 for each CLK read (a progress bar's ``update``).
        """
        pieces: List[bytes] = []
        piece: List[bytes] = []
        clk_bytes, per_piece, count = 0, 1, 0
        for clk in clks:
            if not count:
                clk_bytes, per_piece = len(clk), max(1, PIECE_BYTES // max(len(clk), 1))
            piece.append(clk)
            count += 1
            if len(piece) == per_piece:
                pieces.append(b"".join(piece))
                piece = []
            if on_clk is not None:
                on_clk(1)
        pieces.append(b"".join(piece))
        del piece
        shared = cls(count, clk_bytes)
        if not count:
            return shared
        row = 0
        pieces.reverse()
        while pieces:  # each piece freed as soon as it is copied
            data = pieces.pop()
            shared._put(row, data)
            row += len(data) // max(clk_bytes, 1)
        return shared

    @classmethod
    def from_bitarrays(cls, clks: Sequence[bitarray]) -> "SharedClks":
        """The CLKs of a list of bitarrays (all of one length, a whole number of bytes)."""
        if isinstance(clks, SharedClks):
            return clks
        return cls.from_stream(clk.tobytes() for clk in clks)

    def _put(self, row: int, data: bytes) -> None:
        """Write CLKs, one after another in ``data``, from ``row`` on."""
        if self.stride == self.clk_bytes:
            self.view[row * self.stride : row * self.stride + len(data)] = data
            return
        for index in range(len(data) // self.clk_bytes):
            start = (row + index) * self.stride
            self.view[start : start + self.clk_bytes] = data[index * self.clk_bytes : (index + 1) * self.clk_bytes]

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> bitarray: ...

    @overload
    def __getitem__(self, index: slice) -> List[bitarray]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[bitarray, List[bitarray]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.length))]
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError("CLK index out of range")
        clk = bitarray()
        clk.frombytes(bytes(self.view[index * self.stride : index * self.stride + self.clk_bytes]))
        return clk


class Plan(NamedTuple):
    """The comparisons of a linkage cut into tasks.

    :ivar tasks: the tasks, most work first.
    :ivar costs: the comparisons of each task, by task number.
    """

    tasks: List[Task]
    costs: List[int]

    @property
    def comparisons(self) -> int:
        """The comparisons of all tasks."""
        return sum(self.costs)


def _target(comparisons: int, workers: int) -> int:
    """The comparisons of one task."""
    return min(MAX_TASK_COMPARISONS, max(MIN_TASK_COMPARISONS, comparisons // (workers * TASKS_PER_WORKER)))


def _segments(
    parties: Tuple[int, int], first: Tuple[int, int], second: Tuple[int, int], target: int, tile_rows: int
) -> Iterator[Tuple[Tuple[int, ...], int]]:
    """The segments comparing positions ``first`` (start, count) of one party with ``second`` of another.

    Runs of first-side rows (so that a run against the whole second side is about
    ``target`` comparisons) against tiles of the second side; each with its cost.
    """
    (start0, count0), (start1, count1) = first, second
    run = min(count0, max(MIN_CHUNK_ROWS, target // max(count1, 1)))
    tile = min(count1, tile_rows)
    for low0 in range(0, count0, run):
        high0 = min(count0, low0 + run)
        for low1 in range(0, count1, tile):
            high1 = min(count1, low1 + tile)
            yield (
                (*parties, start0 + low0, start0 + high0, start1 + low1, start1 + high1),
                (high0 - low0) * (high1 - low1),
            )


def _pack(segments: Iterable[Tuple[Tuple[int, ...], int]], target: int) -> Plan:
    """Consecutive segments gathered into tasks of at least ``target`` comparisons (the last may be less)."""
    tasks: List[Task] = []
    costs: List[int] = []
    current, cost = array("Q"), 0
    for segment, comparisons in segments:
        current.extend(segment)
        cost += comparisons
        if cost >= target:
            tasks.append((len(tasks), current))
            costs.append(cost)
            current, cost = array("Q"), 0
    if current:
        tasks.append((len(tasks), current))
        costs.append(cost)
    tasks.sort(key=lambda task: -costs[task[0]])
    return Plan(tasks, costs)


def plan_unblocked(sizes: Sequence[int], stride: int, workers: int) -> Plan:
    """Tasks comparing every record of every two parties."""
    pairs = [(i, j) for i in range(len(sizes)) for j in range(i + 1, len(sizes))]
    target = _target(sum(sizes[i] * sizes[j] for i, j in pairs), workers)
    tile_rows = max(1, TILE_BYTES // stride)
    return _pack(
        (segment for i, j in pairs for segment in _segments((i, j), (0, sizes[i]), (0, sizes[j]), target, tile_rows)),
        target,
    )


class Blocks(NamedTuple):
    """Each party's rows in block order, and where each block's rows are.

    :ivar orders: per party, its rows block by block (rows of a block ascending), as
        NumPy ``uint32``; a row is there once for each block it is in.
    :ivar starts: per party, the position in its order where each block starts, and at
        the end its length (NumPy ``int64``, one more than the number of blocks).
    """

    orders: List[Any]
    starts: List[Any]


def block_orders(blocks: Sequence[Sequence[Sequence[BlockId]]]) -> Blocks:
    """Every party's rows block by block (each block's rows ascending, a row once per block).

    The blocks are numbered in the order they are first seen; any numbering would
    do, as the result is sorted in the end. Python touches each block id once, in C
    loops (``map``, ``dict.fromkeys``); the rest is NumPy.

    :param blocks: per party, the block ids of each row (a block given twice for a row is one block).
    """
    import numpy as np

    flat = [list(itertools.chain.from_iterable(party_blocks)) for party_blocks in blocks]
    codes = {block: code for code, block in enumerate(dict.fromkeys(itertools.chain.from_iterable(flat)))}
    orders, starts = [], []
    for party_blocks, ids in zip(blocks, flat):
        size = len(party_blocks)
        lengths = np.fromiter(map(len, party_blocks), dtype=np.int64, count=size)
        numbers = np.fromiter(map(codes.__getitem__, ids), dtype=np.int64, count=len(ids))
        # (block, row) as one number: sorted and unique, that is block by block, rows ascending, each once.
        memberships = np.unique(numbers * size + np.repeat(np.arange(size, dtype=np.int64), lengths))
        del numbers
        orders.append((memberships % size).astype(np.uint32))
        counts = np.bincount(memberships // size, minlength=len(codes))
        starts.append(np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(counts))))
    return Blocks(orders, starts)


def plan_blocked(blocks: Blocks, stride: int, workers: int) -> Plan:
    """Tasks comparing, in every block, the records of every two parties."""
    parties = len(blocks.starts)
    starts = [party_starts.tolist() for party_starts in blocks.starts]
    sizes = [[end - start for start, end in zip(party[:-1], party[1:])] for party in starts]
    pairs = [(i, j) for i in range(parties) for j in range(i + 1, parties)]
    comparisons = sum(a * b for i, j in pairs for a, b in zip(sizes[i], sizes[j]))
    target = _target(comparisons, workers)
    tile_rows = max(1, TILE_BYTES // stride)

    def segments() -> Iterator[Tuple[Tuple[int, ...], int]]:
        for block in range(len(sizes[0]) if sizes else 0):
            for i, j in pairs:
                count0, count1 = sizes[i][block], sizes[j][block]
                if count0 and count1:
                    yield from _segments(
                        (i, j), (starts[i][block], count0), (starts[j][block], count1), target, tile_rows
                    )

    return _pack(segments(), target)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C back while workers start: they inherit it blocked (and then ignore it); we get it after."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: each worker ignores Ctrl-C as it starts
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Workers:
    """The worker processes of one linkage, each with its own pipe.

    :meth:`answers` hands out tasks, one at a time to whichever worker is free.
    :meth:`close` lets them finish; :meth:`stop` ends them at once (after an error,
    Ctrl-C or SIGTERM). Use it as a context manager: leaving it by an exception
    stops them.
    """

    def __init__(self, count: int, job: Job) -> None:
        context: Any = multiprocessing.get_context(START_METHOD)
        self.processes: List[Any] = []
        self.connections: List[Any] = []
        self.cpu_seconds: List[float] = [0.0] * count
        try:
            with _interrupts_held():
                for _ in range(count):
                    mine, theirs = context.Pipe()
                    process = context.Process(target=serve, args=(theirs, job), name="anonlink-linkage", daemon=True)
                    self.connections.append(mine)
                    process.start()
                    theirs.close()
                    self.processes.append(process)
        except OSError as exc:  # e.g. no more processes allowed
            self.stop()
            raise WorkerFailed(f"could not start a linkage worker process ({exc.strerror or exc})") from exc
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, kind: Any, *_exc: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.stop()

    def answers(self, tasks: Iterable[Task]) -> Iterator[Found]:
        """The answer to every task, in the order they come.

        :raises WorkerFailed: if a worker dies or a task raises in it.
        """
        from multiprocessing.connection import wait

        pending = iter(tasks)
        busy: Dict[Any, int] = {}
        for index, connection in enumerate(self.connections):
            task = next(pending, None)
            if task is None:
                break
            self._send(index, task)
            busy[connection] = index
        sentinels = {process.sentinel: index for index, process in enumerate(self.processes)}
        while busy:
            ready = wait([*busy, *sentinels])
            for connection in [item for item in ready if item in busy]:
                index = busy.pop(connection)
                try:
                    answer = connection.recv()
                except (EOFError, OSError):
                    raise self._died(index) from None
                if isinstance(answer, Failed):
                    raise WorkerFailed(f"a linkage worker failed: {answer.error}")
                self.cpu_seconds[index] = answer.cpu_seconds
                yield answer
                task = next(pending, None)
                if task is not None:
                    self._send(index, task)
                    busy[connection] = index
            for sentinel in [item for item in ready if item in sentinels]:
                raise self._died(sentinels[sentinel])

    def _send(self, index: int, task: Task) -> None:
        """Hand a task to a worker (which may have died since its last answer)."""
        try:
            self.connections[index].send(task)
        except OSError:  # BrokenPipeError, ConnectionResetError
            raise self._died(index) from None

    def _died(self, index: int) -> WorkerFailed:
        process = self.processes[index]
        process.join(1)
        return WorkerFailed(f"a linkage worker process ended unexpectedly (exit code {process.exitcode})")

    def close(self) -> None:
        """Tell every worker to end, and wait for them (stopping any that do not)."""
        for connection in self.connections:
            with contextlib.suppress(OSError, ValueError):
                connection.send(None)
        for process in self.processes:
            process.join(5)
        self.stop()

    def stop(self) -> None:
        """End every worker now."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join()
        for connection in self.connections:
            connection.close()
        self.processes, self.connections = [], []


class ParallelRun(NamedTuple):
    """What :func:`find_candidates_parallel` found, and what it took.

    :ivar candidates: anonlink's candidate pairs.
    :ivar comparisons: the pairs of records compared.
    :ivar workers: the worker processes used.
    :ivar worker_cpu_seconds: the CPU time each worker used.
    """

    candidates: CandidatePairs
    comparisons: int
    workers: int
    worker_cpu_seconds: List[float]


class Prepared(NamedTuple):
    """A linkage's comparisons, planned: the tasks, and the blocks they refer to (``None``: unblocked)."""

    plan: Plan
    blocks: Optional[Blocks]


def prepare(
    sizes: Sequence[int],
    clk_bytes: int,
    workers: int,
    blocks: Optional[Sequence[Sequence[Sequence[BlockId]]]] = None,
) -> Prepared:
    """Cut the comparisons of a linkage into tasks for ``workers`` workers.

    :param sizes: each party's number of CLKs.
    :param clk_bytes: bytes per CLK.
    :param blocks: each party's block ids of each row, for blocked linkage.
    """
    stride = packed_stride(clk_bytes)
    if blocks is None:
        return Prepared(plan_unblocked(sizes, stride, workers), None)
    orders = block_orders(blocks)
    return Prepared(plan_blocked(orders, stride, workers), orders)


def find_candidates_parallel(
    clks: Sequence[Sequence[bitarray]],
    threshold: float,
    workers: int,
    prepared: Prepared,
    on_progress: Optional[ProgressCallback] = None,
    pool: Callable[[int, Job], "Workers"] = Workers,
) -> ParallelRun:
    """anonlink's candidate pairs of two or more parties, found by worker processes.

    :param clks: each party's CLKs (:class:`SharedClks`, or bitarrays, which are packed into shared memory).
    :param threshold: the least Dice similarity of a candidate pair.
    :param workers: the most worker processes to start (no more than there are tasks).
    :param prepared: the tasks, from :func:`prepare`.
    :param on_progress: called with the number of comparisons of each task done.
    :param pool: what runs the tasks, given the number of workers and the job (tests use one
        that runs the workers' code in this process).
    :raises WorkerFailed: if a worker dies or fails.
    """
    shared = [SharedClks.from_bitarrays(party) for party in clks]
    plan, blocks = prepared
    shared_orders = None
    if blocks is not None:
        context: Any = multiprocessing.get_context(START_METHOD)
        shared_orders = [context.RawArray("I", max(1, len(order))) for order in blocks.orders]
        for raw, order in zip(shared_orders, blocks.orders):
            memoryview(raw).cast("B").cast("I")[: len(order)] = memoryview(order.tobytes()).cast("I")
    job = Job([party.raw for party in shared], shared[0].stride, shared_orders, threshold)
    found: List[Found] = []
    count = max(1, min(workers, len(plan.tasks)))
    with pool(count, job) as workers_pool:
        for answer in workers_pool.answers(plan.tasks):
            found.append(answer)
            if on_progress is not None:
                on_progress(plan.costs[answer.task])
        cpu_seconds = list(workers_pool.cpu_seconds)
    segments = {number: task for number, task in plan.tasks}
    candidates = merge(found, segments, [len(party) for party in shared], blocks)
    return ParallelRun(candidates, plan.comparisons, count, cpu_seconds)


def merge(
    found: List[Found], segments: Dict[int, "array[int]"], sizes: Sequence[int], blocks: Optional[Blocks]
) -> CandidatePairs:
    """The workers' pairs as anonlink gives them: rows of the parties, sorted, each pair once.

    Sorted by similarity (highest first), then party0, party1, row0, row1; a pair
    found in several blocks is kept once. Each answer is dropped from ``found`` once
    its pairs are copied, so memory stays near anonlink's own (about 50 bytes a pair
    at the most, 24 in the result).
    """
    import numpy as np

    total = sum(len(answer.similarities) for answer in found)
    similarity = np.empty(total, dtype=np.float64)
    party0, party1, row0, row1 = (np.empty(total, dtype=np.uint32) for _ in range(4))
    if blocks is not None:
        flat = np.concatenate(blocks.orders)
        bases = np.cumsum([0] + [len(order) for order in blocks.orders], dtype=np.int64)
    end = 0
    while found:
        answer = found.pop()
        start, end = end, end + len(answer.similarities)
        table = np.frombuffer(segments[answer.task], dtype=np.uint64).reshape(-1, SEGMENT_FIELDS).astype(np.int64)
        which = np.repeat(np.arange(len(table)), np.frombuffer(answer.counts, dtype=np.uint64).astype(np.int64))
        parties = table[which, 0], table[which, 1]
        positions = [
            table[which, 2] + np.frombuffer(answer.positions0, dtype=np.uint32),
            table[which, 4] + np.frombuffer(answer.positions1, dtype=np.uint32),
        ]
        if blocks is not None:  # positions in block order -> rows
            positions = [flat[bases[party] + position] for party, position in zip(parties, positions)]
        similarity[start:end] = np.frombuffer(answer.similarities, dtype=np.float64)
        party0[start:end], party1[start:end] = parties
        row0[start:end], row1[start:end] = positions
    count, most = len(sizes), max(sizes)
    if count * most < 1 << 32:  # (party0, party1, row0, row1) as one number, in the same order
        key = party0.astype(np.uint64)
        for column, scale in ((party1, count), (row0, most), (row1, most)):
            key *= np.uint64(scale)
            key += column
        order = np.lexsort(cast(Any, (key, -similarity)))
        ordered = [key[order]]
        del key
    else:
        order = np.lexsort(cast(Any, (row1, row0, party1, party0, -similarity)))
        ordered = [column[order] for column in (party0, party1, row0, row1)]
    differs = np.zeros(max(len(order) - 1, 0), dtype=bool)
    for column in ordered:  # the same pair twice has the same similarity too
        differs |= column[1:] != column[:-1]
    del ordered
    chosen = order[np.concatenate((np.ones(min(len(order), 1), dtype=bool), differs))]
    del order, differs
    columns: List[Any] = [similarity, party0, party1, row0, row1]
    result = []
    while columns:  # each column freed as soon as it is converted
        column = columns.pop(0)
        result.append(array("d" if column.dtype == np.float64 else "I", column[chosen].tobytes()))
        del column
    return result[0], (result[1], result[2]), (result[3], result[4])
