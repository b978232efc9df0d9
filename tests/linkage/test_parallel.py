"""Linkage on every core gives what one process gives, byte for byte.

The property tests run the workers' own code (:class:`~anonlinkclient.linkage.workers.Comparer`)
in this process, on tasks cut far smaller than a real linkage's (so that every
example has many tasks, runs and tiles), and compare the candidate pairs, the
groups and the written files with those of one process (anonlink's own candidate
generation). Real worker processes (spawned, as on Windows) then link random CLKs
and the tutorial's data, and fail cleanly when one dies.
"""

import contextlib
import io
import multiprocessing
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Sequence

import anonlink
import pytest
from bitarray import bitarray
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonlinkclient.errors import WorkerFailed
from anonlinkclient.io.scores_file import write_scores
from anonlinkclient.linkage import parallel
from anonlinkclient.linkage.similarity import Party, compare, solve, write_groups
from anonlinkclient.linkage.workers import Comparer, Found, Job, Task, dice_kernel
from tests.helpers import NCVR_20, run_cli, tutorial


class InProcess:
    """A pool that runs the workers' code in this process (for many examples without starting processes)."""

    def __init__(self, count: int, job: Job) -> None:
        self.comparer = Comparer(dice_kernel(), job)
        self.cpu_seconds = [0.0] * count

    def __enter__(self) -> "InProcess":
        return self

    def __exit__(self, *_exc: Any) -> None:
        pass

    def answers(self, tasks: Sequence[Task]) -> Iterator[Found]:
        # Answer in an order of our own: the result must not depend on it.
        for task in sorted(tasks, key=lambda task: (task[0] * 7919) % 104729):
            yield self.comparer.run(task)


@contextlib.contextmanager
def tiny_tasks() -> Iterator[None]:
    """Cut every linkage into tasks of a few comparisons, runs of two rows and tiles of two CLKs."""
    saved = (parallel.MIN_TASK_COMPARISONS, parallel.MIN_CHUNK_ROWS, parallel.TILE_BYTES)
    parallel.MIN_TASK_COMPARISONS, parallel.MIN_CHUNK_ROWS, parallel.TILE_BYTES = 1, 2, 16
    try:
        yield
    finally:
        parallel.MIN_TASK_COMPARISONS, parallel.MIN_CHUNK_ROWS, parallel.TILE_BYTES = saved


def bits(data: bytes) -> bitarray:
    clk = bitarray()
    clk.frombytes(data)
    return clk


@st.composite
def linkages(draw: st.DrawFn) -> Any:
    """Parties of random CLKs (some near copies of others, so that pairs are similar), a threshold, blocks."""
    clk_bytes = draw(st.sampled_from([8, 13, 16, 24]))
    count = draw(st.integers(2, 4))
    rng = random.Random(draw(st.integers(0, 2**32)))
    pool: List[bytes] = []
    parties = []
    for _ in range(count):
        clks = []
        for _ in range(draw(st.integers(1, 40))):
            if pool and rng.random() < 0.6:
                flipped = bytearray(rng.choice(pool))
                for _ in range(rng.randrange(0, 6)):
                    flipped[rng.randrange(clk_bytes)] ^= 1 << rng.randrange(8)
                clk = bytes(flipped)
            else:
                clk = bytes(rng.randrange(256) & rng.randrange(256) for _ in range(clk_bytes))
            if rng.random() < 0.05:
                clk = bytes(clk_bytes)  # an empty CLK
            pool.append(clk)
            clks.append(bits(clk))
        parties.append(clks)
    threshold = draw(st.sampled_from([0.0, 0.5, 0.7, 0.8, 1.0]) | st.floats(0.0, 1.0))
    blocked = draw(st.booleans())
    ids = ["a", "b", "1", 1, 2, "c d"]
    blocks = [[rng.sample(ids, rng.randrange(0, 3)) + ([rng.choice(ids)] if rng.random() < 0.1 else []) for _ in party]
              for party in parties] if blocked else None  # fmt: skip
    return [
        Party("clks", clks, None, None if blocks is None else blocks[i]) for i, clks in enumerate(parties)
    ], threshold


def outputs(candidates: Any) -> bytes:
    """The groups file and the scores file (JSON and binary) of some candidate pairs, as written."""
    groups, scores, binary = io.StringIO(), io.StringIO(), io.BytesIO()
    write_groups(groups, solve(candidates))
    write_scores(scores, candidates)
    text = io.TextIOWrapper(binary, write_through=True)
    write_scores(text, candidates, "binary")
    text.detach()
    return groups.getvalue().encode() + scores.getvalue().encode() + binary.getvalue()


def parallel_candidates(parties: Sequence[Party], threshold: float, workers: int = 3, pool: Any = InProcess) -> Any:
    blocks = [party.blocks or [] for party in parties] if parties[0].blocks is not None else None
    prepared = parallel.prepare([len(p.clks) for p in parties], len(parties[0].clks[0]) // 8, workers, blocks)
    run = parallel.find_candidates_parallel([p.clks for p in parties], threshold, workers, prepared, pool=pool)
    return run.candidates


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linkages())
def test_the_workers_find_what_one_process_finds(linkage: Any) -> None:
    parties, threshold = linkage
    one = compare(parties, threshold, workers=1).candidates
    with tiny_tasks():
        many = parallel_candidates(parties, threshold)
    assert many == one
    assert [column.typecode for column in (many[0], *many[1], *many[2])] == ["d", "I", "I", "I", "I"]
    assert outputs(many) == outputs(one)


@settings(max_examples=60, deadline=None)
@given(linkages())
def test_one_process_is_anonlinks_own_candidate_generation(linkage: Any) -> None:
    """Where anonlink is right (whole 8-byte words, each block id once per record), we give what it gives."""
    parties, threshold = linkage
    if len(parties[0].clks[0]) % 64 or any(len(set(ids)) < len(ids) for p in parties for ids in p.blocks or []):
        return
    blocking_f = None
    if parties[0].blocks is not None:

        def blocking_f(party: int, row: int, _clk: bitarray) -> List[Any]:
            return parties[party].blocks[row]  # type: ignore[index]

    theirs = anonlink.candidate_generation.find_candidate_pairs(
        [p.clks for p in parties], anonlink.similarities.dice_coefficient, threshold, blocking_f=blocking_f
    )
    assert compare(parties, threshold, workers=1).candidates == theirs


def test_a_block_id_given_twice_for_a_record_gives_each_pair_once() -> None:
    clk = bits(bytes.fromhex("ff00ff00ff00ff00"))
    parties = [Party("a", [clk], None, [["x", "x"]]), Party("b", [clk, clk], None, [["x"], ["x", "y", "x"]])]
    sims, (parties0, parties1), (rows0, rows1) = compare(parties, 0.5, workers=1).candidates
    assert list(zip(sims, parties0, parties1, rows0, rows1)) == [(1.0, 0, 1, 0, 0), (1.0, 0, 1, 0, 1)]


def test_clks_of_a_size_that_is_not_whole_words_get_their_true_similarity() -> None:
    """anonlink's kernel miscounts 125-byte CLKs against 10,000 or more; zero padding avoids that."""
    rng = random.Random(5)
    first = [bits(rng.randbytes(125)) for _ in range(2)]
    second = [bits(rng.randbytes(125)) for _ in range(10_001)]
    parties = [Party("a", first), Party("b", second)]
    true = anonlink.similarities.dice_coefficient_python([first, second], 0.5)
    sims, _parties, (rows0, rows1) = compare(parties, 0.5, workers=1).candidates
    assert sorted(zip(rows0, rows1, sims)) == sorted(zip(true[1][0], true[1][1], true[0]))


def random_parties(count: int, size: int, seed: int, blocked: bool = False) -> List[Party]:
    """Parties of random CLKs, each a near copy of one of the first party's or new; blocks of 40 ids."""
    rng = random.Random(seed)
    base = [rng.randbytes(128) for _ in range(size)]
    parties = []
    for party in range(count):
        clks = []
        for row in range(size):
            data = bytearray(base[row] if party == 0 or rng.random() < 0.7 else rng.randbytes(128))
            for _ in range(rng.randrange(8) if party else 0):
                data[rng.randrange(128)] ^= 1 << rng.randrange(8)
            clks.append(bits(bytes(data)))
        blocks = [[f"b{rng.randrange(40)}", rng.randrange(40)] for _ in clks] if blocked else None
        parties.append(Party(f"party{party}", clks, None, blocks))
    return parties


def worker_processes() -> List[Any]:
    return [child for child in multiprocessing.active_children() if child.name == "anonlink-linkage"]


@pytest.mark.parametrize("count, blocked", [(2, False), (3, True)])
def test_worker_processes_find_what_one_process_finds(count: int, blocked: bool) -> None:
    parties = random_parties(count, 700, seed=count, blocked=blocked)
    one = compare(parties, 0.55, workers=1).candidates
    with tiny_tasks():
        parallel.MIN_TASK_COMPARISONS = 50_000
        run = parallel.find_candidates_parallel(
            [p.clks for p in parties],
            0.55,
            2,
            parallel.prepare([700] * count, 128, 2, [p.blocks or [] for p in parties] if blocked else None),
        )
    assert run.workers == 2 and len(run.worker_cpu_seconds) == 2
    assert run.candidates == one
    assert len(one[0]) > 300  # similar pairs, and pairs found in several blocks
    assert worker_processes() == []


def test_a_worker_that_dies_fails_the_linkage_and_stops_the_others() -> None:
    parties = random_parties(2, 600, seed=1)
    killed: List[int] = []

    def kill_one(_done: int) -> None:
        if not killed:
            killed.append(worker_processes()[0].pid)
            os.kill(killed[0], signal.SIGKILL)

    with tiny_tasks(), pytest.raises(WorkerFailed) as failure:
        parallel.MIN_TASK_COMPARISONS = 10_000
        prepared = parallel.prepare([600, 600], 128, 2)
        parallel.find_candidates_parallel([p.clks for p in parties], 0.5, 2, prepared, kill_one)
    assert str(failure.value) == "a linkage worker process ended unexpectedly (exit code -9)"
    assert worker_processes() == []


def test_a_task_that_raises_in_a_worker_fails_the_linkage_in_one_line() -> None:
    parties = random_parties(2, 300, seed=2)
    prepared = parallel.prepare([300, 300], 128, 2)
    with pytest.raises(WorkerFailed, match=r"^a linkage worker failed: TypeError: must be real number, not str$"):
        parallel.find_candidates_parallel([p.clks for p in parties], "0.5", 2, prepared)  # type: ignore[arg-type]
    assert worker_processes() == []


def test_a_worker_loads_only_anonlinks_compiled_kernel() -> None:
    """No NumPy and no anonlink package in a worker: it stays small (the sum of all processes' memory counts)."""
    code = (
        "import sys\n"
        "from anonlinkclient.linkage.workers import dice_kernel\n"
        "kernel = dice_kernel()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'anonlink.', 'pkg_resources'))))\n"
        "import anonlink.similarities._dice as real\n"
        "print(kernel.dice_many_to_many is real.dice_many_to_many)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\nTrue\n"


def test_shared_clks_read_as_the_bitarrays_they_hold() -> None:
    clks = [bits(bytes([row]) * 13) for row in range(5)]
    shared = parallel.SharedClks.from_bitarrays(clks)
    assert (shared.stride, len(shared), list(shared), shared[-1], shared[1:3]) == (16, 5, clks, clks[4], clks[1:3])
    with pytest.raises(IndexError):
        shared[5]  # noqa: B018


@pytest.fixture(scope="module")
def tutorial_clks(tmp_path_factory: pytest.TempPathFactory) -> List[List[Path]]:
    """The multi-party tutorial's CLK and block files (three NCVR parties of 5,000 records)."""
    directory = tmp_path_factory.mktemp("tutorial")
    files = []
    for party, pii in enumerate(NCVR_20):
        clk_path, block_path = directory / f"clk_{party}.json", directory / f"blocks_{party}.json"
        assert run_cli("hash", pii, "secret", tutorial("novt_schema.json"), clk_path).exit_code == 0
        assert run_cli("block", clk_path, tutorial("blocking_schema.json"), block_path).exit_code == 0
        files.append([clk_path, block_path])
    return files


@pytest.mark.parametrize("blocked", [False, True])
def test_the_tutorial_links_the_same_on_every_core(
    tmp_path: Path, tutorial_clks: List[List[Path]], blocked: bool
) -> None:
    parties = [
        arg for clk, blocks in tutorial_clks for arg in (("--files", clk, blocks) if blocked else ("--clk", clk))
    ]
    written = {}
    for workers in ("1", "2"):
        out, scores = tmp_path / f"groups-{workers}.json", tmp_path / f"scores-{workers}.bin"
        saved = parallel.PARALLEL_FROM
        parallel.PARALLEL_FROM = 0  # the blocked tutorial is too small to be worth workers
        try:
            result = run_cli("find-similarity", "0.8", out, *parties, "--workers", workers, "-v",
                             "--scores", scores, "--scores-format", "binary")  # fmt: skip
        finally:
            parallel.PARALLEL_FROM = saved
        assert result.exit_code == 0, result.stderr
        expected = "with 2 worker processes" if workers == "2" else "with one process"
        assert expected in result.stderr
        written[workers] = (out.read_bytes(), scores.read_bytes())
    assert written["1"] == written["2"]
    assert len(written["1"][0]) > 10_000


def test_too_small_a_linkage_starts_no_worker(tmp_path: Path, tutorial_clks: List[List[Path]]) -> None:
    parties = [arg for clk, blocks in tutorial_clks for arg in ("--files", clk, blocks)]
    result = run_cli("find-similarity", "0.8", tmp_path / "groups.json", *parties, "--workers", "2", "-v")
    assert result.exit_code == 0, result.stderr
    assert "with one process" in result.stderr


def test_a_worker_that_cannot_start_fails_the_linkage_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_process: Any) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.get_context("spawn").Process, "start", refuse)
    parties = random_parties(2, 50, seed=3)
    with pytest.raises(WorkerFailed) as failure:
        parallel.find_candidates_parallel([p.clks for p in parties], 0.5, 2, parallel.prepare([50, 50], 128, 2))
    assert str(failure.value) == "could not start a linkage worker process (Resource temporarily unavailable)"
