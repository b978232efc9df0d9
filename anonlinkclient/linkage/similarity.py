"""Local linkage: what ``anonlink find-similarity`` does, without an Entity Service.

Each party's CLKs are read (and, with blocking, its block file from
``anonlink block``). ``anonlink`` finds the candidate pairs: every pair of
records of two different parties whose CLKs have a Dice coefficient of at least
the threshold (with blocking, only pairs of records that share a block id).
anonlink's probabilistic greedy solver then builds the groups, with a merge
threshold of 1.0: two groups are joined only if every pair of records across
them is a candidate pair, so groups may span any number of parties and no group
holds two records of one party. This is how the manual's multi-party tutorial
solves, and what the Entity Service computes for result type ``groups``.

The groups are written as the service returns them, listed in order of their
smallest ``(party, row)`` record::

    {"groups": [[[party, row], [party, row], ...], ...]}

and, if asked for, every candidate pair in the shape of the service's
``similarity_scores`` result, most similar first::

    {"similarity_scores": [[[party, row], [party, row], similarity], ...]}

Parties are numbered from 0 in the order they are given; rows are 0-based CLK
indices. Before any CLK is read, what the parties' files record about how they
were made is compared (:func:`check_parties_agree`): files hashed with different
linkage schemas or secrets are refused unless forced, files of different CLK
lengths always. The CLK and block files are streamed in, but anonlink needs every CLK
(as a bitarray), the blocks and all candidate pairs in memory.

With several workers (:func:`compare`), the CLKs are read into shared memory
instead, and worker processes compare them (:mod:`anonlinkclient.linkage.parallel`);
the candidate pairs, and so the groups and scores, are the same as in one process.
"""

import collections
import contextlib
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Sequence, Tuple

from bitarray import bitarray

from anonlinkclient.errors import EncodingsDiffer, InputFileError, UsageError
from anonlinkclient.io.bits import to_bitarray
from anonlinkclient.io.block_file import BlockId, blocks_by_record
from anonlinkclient.io.clk_file import ClkFileInfo, iter_clks, no_metadata_note, read_clk_info
from anonlinkclient.io.json_array import encode, write_list_document
from anonlinkclient.io.output import STDOUT, atomic_output, check_outputs
from anonlinkclient.io.processes import default_workers
from anonlinkclient.io.progress import bar
from anonlinkclient.linkage import parallel

if TYPE_CHECKING:  # NumPy is imported only where it is needed (worker processes start without it)
    from anonlinkclient.io.scores_file import Sample

logger = logging.getLogger(__name__)

MERGE_THRESHOLD = 1.0

Record = Tuple[int, int]  # (party, row)
Group = Sequence[Record]
CandidatePairs = Tuple[Any, Tuple[Any, Any], Tuple[Any, Any]]  # anonlink's (sims, (dsets0, dsets1), (recs0, recs1))


@dataclass
class Party:
    """One party's CLKs, and its blocks if the linkage is blocked.

    :ivar clk_path: the CLK file.
    :ivar clks: the CLKs as bitarrays, in row order (for linkage on several cores, a
        :class:`~anonlinkclient.linkage.parallel.SharedClks` in shared memory, which reads as one).
    :ivar block_path: the block file, if any.
    :ivar blocks: the block ids of each row (``[]``: in no block), if blocked.
    """

    clk_path: str
    clks: Sequence[bitarray]
    block_path: Optional[str] = None
    blocks: Optional[List[List[BlockId]]] = None

    @property
    def unblocked_count(self) -> int:
        """Rows that are in no block (never compared); 0 without blocking."""
        return sum(1 for blocks in self.blocks or [] if not blocks)


@dataclass
class LinkageResult:
    """What a local linkage found.

    :ivar parties: the parties linked.
    :ivar threshold: the similarity threshold.
    :ivar candidates: anonlink's candidate pairs ``(similarities, (parties, parties), (rows, rows))``.
    :ivar groups: the groups of ``(party, row)`` records, as the solver returned them.
    :ivar seconds: the time taken to find the candidates and solve.
    :ivar notes: notes and warnings about the parties' files (no metadata, forced differences).
    :ivar comparison: how the candidates were found (pairs compared, processes, time).
    """

    parties: List[Party]
    threshold: float
    candidates: CandidatePairs
    groups: Sequence[Group]
    seconds: float
    notes: List[str] = field(default_factory=list)
    comparison: Optional["Comparison"] = None

    @property
    def candidate_count(self) -> int:
        """The number of candidate pairs."""
        return len(self.candidates[0])

    @property
    def linked_records(self) -> int:
        """The number of records in some group."""
        return sum(len(group) for group in self.groups)


def load_party(
    clk_path: str,
    block_path: Optional[str] = None,
    progress: bool = False,
    raw_clk_size: Optional[int] = None,
    shared: bool = False,
) -> Party:
    """Read a party's CLK file (JSON or binary) and, for blocked linkage, its block file, each once.

    :param progress: show a progress bar on stderr while the CLKs are read.
    :param raw_clk_size: the CLK file is headerless binary with CLKs of this many bytes.
    :param shared: keep the CLKs packed in shared memory, for worker processes to read
        (:class:`~anonlinkclient.linkage.parallel.SharedClks`), not as a list of bitarrays.
    :raises InputFileError: for a bad file, a file with no CLKs, or a block file
        made for a different number of records.
    """
    clks: Sequence[bitarray]
    with bar(progress, f"reading {clk_path}", unit="CLK") as counter:
        if shared:
            clks = parallel.SharedClks.from_stream(iter_clks(clk_path, raw_clk_size), counter.update)
        else:
            clks = []
            for clk in iter_clks(clk_path, raw_clk_size):
                clks.append(to_bitarray(clk))
                counter.update(1)
    if not clks:
        raise InputFileError(clk_path, "contains no CLKs")
    blocks = list(blocks_by_record(block_path, len(clks), clk_path)) if block_path is not None else None
    return Party(clk_path, clks, block_path, blocks)


def check_clk_sizes(parties: Sequence[Party]) -> None:
    """Check that every party's CLKs have the size of the first party's.

    :raises InputFileError: naming the file whose CLKs differ.
    """
    first = parties[0]
    bits = len(first.clks[0])
    for party in parties[1:]:
        if len(party.clks[0]) != bits:
            raise InputFileError(
                party.clk_path,
                f"has {len(party.clks[0])}-bit CLKs but {first.clk_path} has {bits}-bit CLKs; "
                "every party must hash with the same linkage schema",
            )


def check_parties_agree(infos: Sequence[ClkFileInfo], force: bool = False) -> List[str]:
    """Compare what the parties' CLK files record about how they were made.

    Each file that records something is compared with the first that does:
    its CLK length, schema fingerprint, secret check value and the folding and
    hardening applied must be the same (a field is compared where both files
    record it; a file made by a tool that ignores ``xorFolds`` and hardening
    differs from a folded or hardened one).

    :param force: go on when schema fingerprints, secret check values or hardening differ
        (a warning is returned instead); CLK lengths must always agree.
    :return: the notes to show: files that record nothing to check, and forced differences.
    :raises InputFileError: if CLK lengths differ.
    :raises EncodingsDiffer: naming the first file that differs in schema, secret or hardening, and in what.
    """
    recorded = [info for info in infos if info.meta is not None]
    hardened = any(info.meta.xor_folds or info.meta.hardening for info in recorded if info.meta is not None)
    notes = [no_metadata_note(info.path, hardened) for info in infos if not info.checkable]
    if not recorded:
        return notes
    first = recorded[0]
    assert first.meta is not None
    for info in recorded[1:]:
        meta = info.meta
        assert meta is not None
        if meta.clk_bits is not None and first.meta.clk_bits is not None and meta.clk_bits != first.meta.clk_bits:
            difference = _hardening_difference(info, first)
            raise InputFileError(
                info.path,
                f"its CLKs are {meta.clk_bits} bits but those of {first.path} are {first.meta.clk_bits} bits"
                + (f" ({difference})" if difference else "")
                + "; every party must hash with the same linkage schema",
            )
        problems = []
        fields = (
            ("schema_fingerprint", "schema fingerprint", "a different linkage schema"),
            ("secret_check", "secret check value", "a different secret"),
        )
        for name, label, meaning in fields:
            mine, theirs = getattr(meta, name), getattr(first.meta, name)
            if mine is not None and theirs is not None and mine != theirs:
                problems.append(f"its {label} is {mine} but that of {first.path} is {theirs} ({meaning})")
        problem = _hardening_difference(info, first)
        if problem is not None:
            problems.append(problem)
        if problems and not force:
            raise EncodingsDiffer(info.path, "; ".join(problems))
        notes += [f"Warning: {info.path}: {problem}; linking anyway" for problem in problems]
    return notes


def _hardening_difference(info: ClkFileInfo, first: ClkFileInfo) -> Optional[str]:
    """How the folding and hardening ``info`` records differ from ``first``'s (``None`` if they do not)."""
    meta, theirs = info.meta, first.meta
    assert meta is not None and theirs is not None
    if meta.encoding == theirs.encoding:
        return None
    if meta.knows_hardening and theirs.knows_hardening:
        return f"it records {meta.encoding} but {first.path} records {theirs.encoding} (a differently hardened schema)"
    if not meta.knows_hardening and theirs.knows_hardening:
        return (
            f"it was made by {meta.made_by}, which ignores xorFolds and clkConfig.hardening, but {first.path} records "
            f"{theirs.encoding}: its CLKs are not folded or hardened"
        )
    if meta.knows_hardening:
        return (
            f"it records {meta.encoding}, but {first.path} was made by {theirs.made_by}, which ignores xorFolds and "
            "clkConfig.hardening: its CLKs are not folded or hardened"
        )
    return None


def _anonlink() -> Any:
    with warnings.catch_warnings():
        # anonlink imports pkg_resources, which newer setuptools warn about.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import anonlink
    return anonlink


def comparison_count(parties: Sequence[Party]) -> int:
    """How many pairs of records the linkage compares: of every two parties, those sharing a block."""
    if not all(party.blocks is not None for party in parties):
        sizes = [len(party.clks) for party in parties]
        return sum(a * b for i, a in enumerate(sizes) for b in sizes[i + 1 :])
    per_block = [
        collections.Counter(b for blocks in party.blocks or [] for b in dict.fromkeys(blocks)) for party in parties
    ]
    return sum(
        count * other[block]
        for i, mine in enumerate(per_block)
        for other in per_block[i + 1 :]
        for block, count in mine.items()
    )


@dataclass
class Comparison:
    """How the candidate pairs of a linkage were found.

    :ivar candidates: anonlink's candidate pairs ``(similarities, (parties, parties), (rows, rows))``.
    :ivar comparisons: the pairs of records compared.
    :ivar seconds: the time taken.
    :ivar workers: the worker processes that compared them (0: this process did).
    :ivar cpu_seconds: the CPU time of each worker (without workers: of this process, comparing).
    """

    candidates: CandidatePairs
    comparisons: int
    seconds: float
    workers: int = 0
    cpu_seconds: List[float] = field(default_factory=list)


def _bits_for_the_kernel(clks: Sequence[bitarray]) -> Sequence[bitarray]:
    """The CLKs as a list of bitarrays anonlink's kernel reads right.

    anonlink's kernel computes wrong popcounts for CLKs that are not a whole
    number of 8-byte words, when comparing with 10,000 or more at once; zero
    bytes at the end (which change no popcount or similarity) avoid that.
    """
    if not len(clks):
        return clks
    padding = parallel.packed_stride(len(clks[0]) // 8) * 8 - len(clks[0])
    if isinstance(clks, parallel.SharedClks):
        clks = list(clks)
    if not padding:
        return clks
    zeros = bitarray(padding)
    zeros.setall(0)
    return [clk + zeros for clk in clks]


def compare(
    parties: Sequence[Party], threshold: float, progress: bool = False, workers: Optional[int] = None
) -> Comparison:
    """All pairs of records of different parties with Dice similarity of at least ``threshold``.

    With blocking (every party has blocks), only records that share a block id are
    compared. With more than one worker and enough comparisons
    (:data:`~anonlinkclient.linkage.parallel.PARALLEL_FROM`), worker processes
    compare them (:mod:`anonlinkclient.linkage.parallel`); the candidate pairs are
    the same, in the same order, as anonlink finds in one process.

    :param progress: show a progress bar of the comparisons on stderr.
    :param workers: worker processes; ``None`` uses one per core, ``1`` compares in this process.
    :raises WorkerFailed: if a worker process dies.
    """
    start, cpu = time.perf_counter(), time.process_time()
    blocked = all(party.blocks is not None for party in parties)
    blocks = [party.blocks or [] for party in parties] if blocked else None
    workers = workers or default_workers()
    prepared = None
    if workers > 1:
        sizes = [len(party.clks) for party in parties]
        if blocked or comparison_count(parties) >= parallel.PARALLEL_FROM:
            prepared = parallel.prepare(sizes, len(parties[0].clks[0]) // 8, workers, blocks)
            if prepared.plan.comparisons < parallel.PARALLEL_FROM:
                prepared = None
    total = None
    if progress:
        total = prepared.plan.comparisons if prepared is not None else comparison_count(parties)
    with bar(progress, "comparing", total=total, unit="pair") as counter:
        if prepared is not None:
            run = parallel.find_candidates_parallel(
                [party.clks for party in parties], threshold, workers, prepared, counter.update
            )
            return Comparison(
                run.candidates, run.comparisons, time.perf_counter() - start, run.workers, run.worker_cpu_seconds
            )
        anonlink = _anonlink()
        blocking_f: Optional[Callable[[int, int, bitarray], Iterable[BlockId]]] = None
        if blocks is not None:
            record_blocks = blocks

            def blocking_f(party: int, row: int, _clk: bitarray) -> Iterable[BlockId]:
                # A block id given twice for one record is one block: anonlink would compare
                # the record twice and keep both pairs, out of order.
                return dict.fromkeys(record_blocks[party][row])

        compared = [0]

        def dice(datasets: Sequence[Sequence[bitarray]], threshold: float, k: Optional[int] = None) -> Any:
            found = anonlink.similarities.dice_coefficient(datasets, threshold, k)
            compared[0] += len(datasets[0]) * len(datasets[1])
            counter.update(len(datasets[0]) * len(datasets[1]))
            return found

        candidates: CandidatePairs = anonlink.candidate_generation.find_candidate_pairs(
            [_bits_for_the_kernel(party.clks) for party in parties], dice, threshold, blocking_f=blocking_f
        )
    return Comparison(candidates, compared[0], time.perf_counter() - start, 0, [time.process_time() - cpu])


def find_candidates(
    parties: Sequence[Party], threshold: float, progress: bool = False, workers: Optional[int] = None
) -> CandidatePairs:
    """All pairs of records of different parties with Dice similarity of at least ``threshold``.

    With blocking (every party has blocks), only records that share a block id are compared.

    :param progress: show a progress bar of the comparisons on stderr.
    :param workers: worker processes (see :func:`compare`); ``None`` uses one per core.
    :return: anonlink's candidate pairs, most similar first.
    """
    return compare(parties, threshold, progress, workers).candidates


def solve(candidates: CandidatePairs) -> List[Group]:
    """Groups of records from candidate pairs, by anonlink's probabilistic greedy solver (merge threshold 1.0).

    Each group keeps the solver's order of its records; the groups are sorted by
    their smallest ``(party, row)`` record (the native solver returns them in an
    order that varies from run to run).
    """
    groups: Sequence[Group] = _anonlink().solving.probabilistic_greedy_solve(
        candidates, merge_threshold=MERGE_THRESHOLD
    )
    return sorted(groups, key=min)


def link_parties(
    parties: Sequence[Party], threshold: float, progress: bool = False, workers: Optional[int] = None
) -> LinkageResult:
    """Find the candidate pairs of two or more parties and solve them into groups.

    :param progress: show a progress bar of the comparisons on stderr.
    :param workers: worker processes to compare with (see :func:`compare`); ``None`` uses one per core.
    :raises InputFileError: if the parties' CLKs differ in size.
    :raises UsageError: for fewer than two parties.
    :raises WorkerFailed: if a worker process dies.
    """
    if len(parties) < 2:
        raise UsageError("linkage needs at least two parties", "files")
    check_clk_sizes(parties)
    start = time.perf_counter()
    comparison = compare(parties, threshold, progress, workers)
    groups = solve(comparison.candidates)
    return LinkageResult(
        list(parties), threshold, comparison.candidates, groups, time.perf_counter() - start, comparison=comparison
    )


def write_groups(handle: IO[str], groups: Iterable[Group]) -> int:
    """Write ``{"groups": [[[party, row], ...], ...]}`` one group at a time; return how many."""
    return write_list_document(handle, "groups", (encode([[int(p), int(r)] for p, r in group]) for group in groups))


def find_similarity(
    threshold: float,
    files: Sequence[Tuple[str, Optional[str]]],
    output: str,
    scores_output: Optional[str] = None,
    progress: bool = False,
    force: bool = False,
    raw_clk_size: Optional[int] = None,
    workers: Optional[int] = None,
    scores_format: str = "json",
    scores_sample: Optional[float] = None,
    scores_sample_above: Optional[float] = None,
    scores_seed: int = 0,
) -> LinkageResult:
    """Link parties locally and write the groups (and optionally the similarity scores).

    Before the scores are written, one line (a warning of this module's logger)
    says how many pairs are coming and about how large the file will be.

    :param threshold: the least Dice similarity of a candidate pair, from 0 to 1.
    :param files: ``(CLK file, block file or None)`` of each party, in party order;
        give block files for all parties or for none. CLK files may be JSON or binary.
    :param output: the groups file (``-``: stdout).
    :param scores_output: the similarity scores file, if wanted (``-``: stdout).
    :param progress: show progress bars on stderr (reading the CLKs, comparing).
    :param force: link even if the files record different schemas or secrets (see :func:`check_parties_agree`).
    :param raw_clk_size: the CLK files are headerless binary with CLKs of this many bytes.
    :param workers: worker processes that compare the CLKs; ``None`` uses one per core, ``1``
        compares in this process (the groups and scores are the same either way). The workers
        are spawned, so a script that calls this must do so under ``if __name__ == "__main__":``
        (as :mod:`multiprocessing` asks of every program that spawns), or pass ``workers=1``.
    :param scores_format: ``json`` or ``binary`` (see :mod:`anonlinkclient.io.scores_file`).
    :param scores_sample: write a sample of the scores: every pair at or above ``scores_sample_above``
        and this share of the others, chosen at random (see :func:`~anonlinkclient.io.scores_file.choose_sample`).
    :param scores_sample_above: the cut of the sample; by default the similarity of the N-th most
        similar pair, N the number of records of all parties.
    :param scores_seed: the seed of the sample.
    :raises InputFileError: for bad input files; nothing is written then.
    :raises EncodingsDiffer: if the files record different schemas or secrets (unless ``force``).
    :raises UsageError: for a threshold that is not a number from 0 to 1, fewer than two parties,
        blocks for only some, one output for both, or a scores format or sample that cannot be.
    :raises WorkerFailed: if a worker process dies.
    """
    if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):  # NaN is neither
        raise UsageError(f"the threshold must be a number from 0 to 1, not {threshold!r}", "threshold")
    if len(files) < 2:
        raise UsageError("linkage needs at least two parties", "files")
    if len({block is None for _clk, block in files}) > 1:
        raise UsageError("give block files for every party or for none", "files")
    if scores_output is not None and scores_output == output:
        raise UsageError("the groups and the similarity scores need different outputs", "scores_output")
    if scores_output is not None:  # (NumPy is imported only then: the parent stays small while workers run)
        from anonlinkclient.io import scores_file

        if scores_format not in scores_file.SCORES_FORMATS:
            raise UsageError(f"unknown scores file format {scores_format!r} (expected json or binary)", "scores_format")
        if scores_sample is not None:
            scores_file.check_sample_request(scores_sample, scores_sample_above, scores_seed)
    check_outputs([output, scores_output], [path for party in files for path in party])
    notes = check_parties_agree([read_clk_info(clk, raw_clk_size) for clk, _block in files], force)
    workers = workers or default_workers()
    parties = [load_party(clk, block, progress, raw_clk_size, shared=workers > 1) for clk, block in files]
    result = link_parties(parties, threshold, progress, workers)
    result.notes = notes
    with contextlib.ExitStack() as stack:
        groups_out = stack.enter_context(atomic_output(output))
        if scores_output is not None:
            from anonlinkclient.io import scores_file

            sample = None
            if scores_sample is not None:
                records = sum(len(party.clks) for party in parties)
                sample = scores_file.choose_sample(
                    result.candidates[0], scores_sample, scores_seed, scores_sample_above, records
                )
            logger.warning(scores_line(result.candidates, scores_output, scores_format, sample))
            scores_file.write_scores(
                stack.enter_context(atomic_output(scores_output)), result.candidates, scores_format, sample
            )
        write_groups(groups_out, result.groups)
    return result


def scores_line(candidates: CandidatePairs, path: str, scores_format: str, sample: Optional["Sample"] = None) -> str:
    """The line said before the scores are written: how many pairs, where, and about how many bytes."""
    from anonlinkclient.io import scores_file

    size = scores_file.scores_size(candidates, scores_format, None if sample is None else sample.indices)
    shown = scores_file.human_size(size) if scores_format == "binary" else f"about {scores_file.human_size(size)}"
    where = output_name(path)
    if sample is None:
        return f"Writing {len(candidates[0]):,} similarity scores to {where} ({shown})"
    sampling = sample.sampling
    return (
        f"Writing {len(sample.indices):,} of {sampling.pairs:,} similarity scores to {where} ({shown}): "
        f"all {sampling.pairs - sampling.pairs_below:,} with similarity of at least {sampling.above:.6g} "
        f"and a random sample of {sampling.rate:g} of the others (seed {sampling.seed})"
    )


def format_summary(result: LinkageResult, verbose: bool = False) -> List[str]:
    """What ``anonlink find-similarity`` reports about a linkage, one line per item.

    :param verbose: add each party's files and counts, the group sizes and the time taken.
    """
    lines = list(result.notes)
    if verbose:
        for index, party in enumerate(result.parties):
            blocks = f", blocks from {party.block_path}" if party.block_path is not None else ""
            lines.append(f"Party {index}: {len(party.clks)} CLKs from {party.clk_path}{blocks}")
    for index, party in enumerate(result.parties):
        if party.unblocked_count:
            lines.append(
                f"Warning: {party.unblocked_count} of {len(party.clks)} records of party {index} "
                f"({party.block_path}) are in no block, so they are not compared"
            )
    lines.append(f"Found {result.candidate_count} candidate pairs with similarity of at least {result.threshold}")
    lines.append(
        f"Solved into {len(result.groups)} groups linking {result.linked_records} records "
        f"of {len(result.parties)} parties"
    )
    if verbose:
        sizes = collections.Counter(len(group) for group in result.groups)
        for size in sorted(sizes):
            lines.append(f"    groups of {size} records: {sizes[size]}")
        lines += comparison_lines(result.comparison)
        lines.append(f"Linkage took {result.seconds:.2f} seconds")
    return lines


def comparison_lines(comparison: Optional[Comparison]) -> List[str]:
    """What ``-v`` says about the comparisons: how many, how fast, by which processes."""
    if comparison is None:
        return []
    rate = comparison.comparisons / comparison.seconds / 1e6 if comparison.seconds > 0 else 0.0
    cpu = ", ".join(f"{seconds:.2f}" for seconds in comparison.cpu_seconds)
    where, whose = (
        (f"{comparison.workers} worker processes", "of each worker") if comparison.workers else ("one process", "")
    )
    return [
        f"Compared {comparison.comparisons:,} pairs of records in {comparison.seconds:.2f} seconds "
        f"with {where} ({rate:,.1f} million a second; CPU seconds{' ' + whose if whose else ''}: {cpu})"
    ]


def output_name(path: str) -> str:
    """How messages name an output: the path, or ``stdout`` for ``-``."""
    return "stdout" if path == STDOUT else path
