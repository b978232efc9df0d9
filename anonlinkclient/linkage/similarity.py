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
"""

import collections
import contextlib
import time
import warnings
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, List, Optional, Sequence, Tuple

from bitarray import bitarray

from anonlinkclient.errors import EncodingsDiffer, InputFileError, UsageError
from anonlinkclient.io.bits import to_bitarray
from anonlinkclient.io.block_file import BlockId, blocks_by_record
from anonlinkclient.io.clk_file import ClkFileInfo, iter_clks, no_metadata_note, read_clk_info
from anonlinkclient.io.json_array import encode, write_list_document
from anonlinkclient.io.output import STDOUT, atomic_output, check_outputs
from anonlinkclient.io.progress import bar

MERGE_THRESHOLD = 1.0

Record = Tuple[int, int]  # (party, row)
Group = Sequence[Record]
CandidatePairs = Tuple[Any, Tuple[Any, Any], Tuple[Any, Any]]  # anonlink's (sims, (dsets0, dsets1), (recs0, recs1))


@dataclass
class Party:
    """One party's CLKs, and its blocks if the linkage is blocked.

    :ivar clk_path: the CLK file.
    :ivar clks: the CLKs as bitarrays, in row order.
    :ivar block_path: the block file, if any.
    :ivar blocks: the block ids of each row (``[]``: in no block), if blocked.
    """

    clk_path: str
    clks: List[bitarray]
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
    """

    parties: List[Party]
    threshold: float
    candidates: CandidatePairs
    groups: Sequence[Group]
    seconds: float
    notes: List[str] = field(default_factory=list)

    @property
    def candidate_count(self) -> int:
        """The number of candidate pairs."""
        return len(self.candidates[0])

    @property
    def linked_records(self) -> int:
        """The number of records in some group."""
        return sum(len(group) for group in self.groups)


def load_party(
    clk_path: str, block_path: Optional[str] = None, progress: bool = False, raw_clk_size: Optional[int] = None
) -> Party:
    """Read a party's CLK file (JSON or binary) and, for blocked linkage, its block file, each once.

    :param progress: show a progress bar on stderr while the CLKs are read.
    :param raw_clk_size: the CLK file is headerless binary with CLKs of this many bytes.
    :raises InputFileError: for a bad file, a file with no CLKs, or a block file
        made for a different number of records.
    """
    with bar(progress, f"reading {clk_path}", unit="CLK") as counter:
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
    per_block = [collections.Counter(b for blocks in party.blocks or [] for b in blocks) for party in parties]
    return sum(
        count * other[block]
        for i, mine in enumerate(per_block)
        for other in per_block[i + 1 :]
        for block, count in mine.items()
    )


def find_candidates(parties: Sequence[Party], threshold: float, progress: bool = False) -> CandidatePairs:
    """All pairs of records of different parties with Dice similarity of at least ``threshold``.

    With blocking (every party has blocks), only records that share a block id are compared.

    :param progress: show a progress bar of the comparisons on stderr.
    :return: anonlink's candidate pairs, most similar first.
    """
    anonlink = _anonlink()
    blocking_f: Optional[Callable[[int, int, bitarray], Iterable[BlockId]]] = None
    if all(party.blocks is not None for party in parties):
        record_blocks = [party.blocks or [] for party in parties]

        def blocking_f(party: int, row: int, _clk: bitarray) -> Iterable[BlockId]:
            return record_blocks[party][row]

    total = comparison_count(parties) if progress else None
    with bar(progress, "comparing", total=total, unit="pair") as counter:

        def dice(datasets: Sequence[Sequence[bitarray]], threshold: float, k: Optional[int] = None) -> Any:
            found = anonlink.similarities.dice_coefficient(datasets, threshold, k)
            counter.update(len(datasets[0]) * len(datasets[1]))
            return found

        candidates: CandidatePairs = anonlink.candidate_generation.find_candidate_pairs(
            [party.clks for party in parties], dice, threshold, blocking_f=blocking_f
        )
    return candidates


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


def link_parties(parties: Sequence[Party], threshold: float, progress: bool = False) -> LinkageResult:
    """Find the candidate pairs of two or more parties and solve them into groups.

    :param progress: show a progress bar of the comparisons on stderr.

    :raises InputFileError: if the parties' CLKs differ in size.
    :raises UsageError: for fewer than two parties.
    """
    if len(parties) < 2:
        raise UsageError("linkage needs at least two parties", "files")
    check_clk_sizes(parties)
    start = time.perf_counter()
    candidates = find_candidates(parties, threshold, progress)
    groups = solve(candidates)
    return LinkageResult(list(parties), threshold, candidates, groups, time.perf_counter() - start)


def write_groups(handle: IO[str], groups: Iterable[Group]) -> int:
    """Write ``{"groups": [[[party, row], ...], ...]}`` one group at a time; return how many."""
    return write_list_document(handle, "groups", (encode([[int(p), int(r)] for p, r in group]) for group in groups))


def write_similarity_scores(handle: IO[str], candidates: CandidatePairs) -> int:
    """Write ``{"similarity_scores": [[[party, row], [party, row], similarity], ...]}``; return how many."""
    sims, (parties0, parties1), (rows0, rows1) = candidates
    rows = zip(sims, parties0, parties1, rows0, rows1)
    return write_list_document(
        handle, "similarity_scores", (encode([[p0, r0], [p1, r1], s]) for s, p0, p1, r0, r1 in rows)
    )


def find_similarity(
    threshold: float,
    files: Sequence[Tuple[str, Optional[str]]],
    output: str,
    scores_output: Optional[str] = None,
    progress: bool = False,
    force: bool = False,
    raw_clk_size: Optional[int] = None,
) -> LinkageResult:
    """Link parties locally and write the groups (and optionally the similarity scores).

    :param threshold: the least Dice similarity of a candidate pair, from 0 to 1.
    :param files: ``(CLK file, block file or None)`` of each party, in party order;
        give block files for all parties or for none. CLK files may be JSON or binary.
    :param output: the groups file (``-``: stdout).
    :param scores_output: the similarity scores file, if wanted (``-``: stdout).
    :param progress: show progress bars on stderr (reading the CLKs, comparing).
    :param force: link even if the files record different schemas or secrets (see :func:`check_parties_agree`).
    :param raw_clk_size: the CLK files are headerless binary with CLKs of this many bytes.
    :raises InputFileError: for bad input files; nothing is written then.
    :raises EncodingsDiffer: if the files record different schemas or secrets (unless ``force``).
    :raises UsageError: for a threshold that is not a number from 0 to 1, fewer than two parties,
        blocks for only some, or one output for both.
    """
    if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):  # NaN is neither
        raise UsageError(f"the threshold must be a number from 0 to 1, not {threshold!r}", "threshold")
    if len(files) < 2:
        raise UsageError("linkage needs at least two parties", "files")
    if len({block is None for _clk, block in files}) > 1:
        raise UsageError("give block files for every party or for none", "files")
    if scores_output is not None and scores_output == output:
        raise UsageError("the groups and the similarity scores need different outputs", "scores_output")
    check_outputs([output, scores_output], [path for party in files for path in party])
    notes = check_parties_agree([read_clk_info(clk, raw_clk_size) for clk, _block in files], force)
    parties = [load_party(clk, block, progress, raw_clk_size) for clk, block in files]
    result = link_parties(parties, threshold, progress)
    result.notes = notes
    with contextlib.ExitStack() as stack:
        groups_out = stack.enter_context(atomic_output(output))
        if scores_output is not None:
            write_similarity_scores(stack.enter_context(atomic_output(scores_output)), result.candidates)
        write_groups(groups_out, result.groups)
    return result


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
        lines.append(f"Linkage took {result.seconds:.2f} seconds")
    return lines


def output_name(path: str) -> str:
    """How messages name an output: the path, or ``stdout`` for ``-``."""
    return "stdout" if path == STDOUT else path
