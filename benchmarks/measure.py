"""Run a command and measure its wall time and the peak memory of its whole process tree.

Peak memory is sampled from /proc every 20 ms as the sum of the resident set
size (VmRSS) over the process and all its descendants (worker processes
included). This is the figure a user's ``top`` or a container's memory limit
counts: pages forked workers share with their parent are counted in each of
them, so the sum is an upper bound on what the machine spends. Linux only.
"""

import os
import resource
import subprocess
import time
from typing import Dict, List, NamedTuple, Sequence, Tuple


def _children() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _rss_kib(pid: int) -> int:
    """Resident set size (KiB) of one process, as ``top`` shows it; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pids(root: int) -> List[int]:
    """``root`` and all its descendants, parents before their children."""
    tree = _children()
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(tree.get(pid, []))
    return found


def tree_rss_kib(root: int) -> int:
    """Summed resident set size (KiB) of ``root`` and all its descendants."""
    return sum(_rss_kib(pid) for pid in tree_pids(root))


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds one process has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Measured(NamedTuple):
    """What :func:`measure_all` found: wall seconds, peak summed RSS (MiB), CPU seconds."""

    seconds: float
    peak_mib: float
    cpu_seconds: float  # the whole process tree
    parent_cpu_seconds: float  # the command's own process (last sample, up to 20 ms early)
    #: CPU seconds of each process of the tree, the command's own first, then its descendants in the order
    #: they were first seen (last samples, up to 20 ms early; a process that lived under 20 ms may be missed)
    process_cpu_seconds: Tuple[float, ...] = ()


def measure_all(command: Sequence[str], **popen_args: object) -> Measured:
    """Run ``command``; return its wall time, peak memory and CPU time. Raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(list(command), **popen_args)  # type: ignore[call-overload]
    peak = 0
    cpu: Dict[int, float] = {}
    while process.poll() is None:
        pids = tree_pids(process.pid)
        peak = max(peak, sum(_rss_kib(pid) for pid in pids))
        for pid in pids:
            cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed with exit code {process.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(seconds, peak / 1024, total, cpu.get(process.pid, 0.0), tuple(cpu.values()))


def measure(command: Sequence[str], **popen_args: object) -> Tuple[float, float]:
    """Run ``command``; return (seconds, peak summed RSS in MiB of its process tree). Raises if it fails."""
    measured = measure_all(command, **popen_args)
    return measured.seconds, measured.peak_mib
