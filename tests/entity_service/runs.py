"""The run scheduler of the test Entity Service: queues runs and computes them, each in its own thread.

A run goes ``created`` -> ``queued`` -> ``running`` (stage 2, then 3) ->
``completed``, waiting :attr:`RunScheduler.stage_delay` seconds before each
change so that polling clients see every state. Tests can hold runs at
``queued`` or ``running`` (:meth:`RunScheduler.pause_runs`) and make them fail
(``faults.fail_runs``). A project whose parties' encodings differ in size never
runs: :meth:`RunScheduler.start_ready_runs`. The linkage itself is :mod:`.linkage` (anonlink).
"""

import secrets
import threading
import time
import traceback
from typing import Any, Dict, List, Optional

from tests.entity_service import linkage
from tests.entity_service.faults import Faults
from tests.entity_service.state import Project, Run, utc_now

#: The run status message of the real service when the parties' encodings differ in size.
SIZE_MISMATCH = "Mismatch in encoding sizes. Stopping"


class RunScheduler:
    """Queues and computes the runs of one service.

    :param lock: the service's lock, which guards its state (projects, runs).
    :param faults: where injected run failures are taken from.
    :param server_errors: the service's list of tracebacks, to add failures of the computation to.
    :param stage_delay: seconds a run waits before each state change.
    :ivar rate: comparisons per second of the last run computed (``/status`` answers it).
    """

    def __init__(self, lock: Any, faults: Faults, server_errors: List[str], stage_delay: float = 0.05) -> None:
        self.lock = lock
        self.faults = faults
        self.server_errors = server_errors
        self.stage_delay = stage_delay
        self.rate = 0
        self._gates = {"queued": threading.Event(), "running": threading.Event()}
        for gate in self._gates.values():
            gate.set()
        self._stopped = threading.Event()

    def pause_runs(self, at: str = "running") -> None:
        """Hold runs in state ``at`` (``"queued"``, or ``"running"`` at stage 2) until :meth:`resume_runs`."""
        self._gates[at].clear()

    def resume_runs(self) -> None:
        """Let paused runs go on."""
        for gate in self._gates.values():
            gate.set()

    def stop(self) -> None:
        """Make every run thread give up (the service is shutting down or being reset)."""
        self._stopped.set()
        self.resume_runs()

    def start_ready_runs(self, project: Project) -> None:
        """Once every party has uploaded, queue the created runs (call with the lock held).

        As the real service does then, first check the encodings' sizes: if they do
        not agree, the project goes into error, and so do its runs (in stage 1,
        never started), with :data:`SIZE_MISMATCH`.
        """
        if not project.all_uploaded or project.error:
            return
        waiting = [run for run in project.runs.values() if run.state == "created" and not run.deleted]
        if not project.encoding_sizes_agree():
            project.error = True
            for run in waiting:
                run.state, run.message = "error", SIZE_MISMATCH
            return
        for run in waiting:
            self.queue(project, run)

    def queue(self, project: Project, run: Run) -> None:
        """Queue a run and start computing it (call with the lock held)."""
        run.state = "queued"
        thread = threading.Thread(target=self._execute, args=(project, run), name=f"run-{run.run_id[:8]}", daemon=True)
        thread.start()

    def _proceed(self, run: Run, gate: Optional[str] = None) -> bool:
        """Wait the stage delay (and for ``gate``, if paused); False if the run is gone."""
        deadline = time.monotonic() + self.stage_delay
        while time.monotonic() < deadline or (gate is not None and not self._gates[gate].is_set()):
            if run.deleted or self._stopped.is_set():
                return False
            time.sleep(0.01)
        return not (run.deleted or self._stopped.is_set())

    def _execute(self, project: Project, run: Run) -> None:
        try:
            if not self._proceed(run, "queued"):
                return
            with self.lock:
                run.state, run.stage, run.time_started = "running", 2, utc_now()
                datasets = [p.upload.clks for p in project.parties if p.upload is not None]
                blocks = [p.upload.blocks for p in project.parties if p.upload is not None]
                total = run.comparisons = linkage.comparison_count(blocks)
                run.progress = {"absolute": 0, "relative": 0.0, "description": "number of already computed comparisons"}
            if not self._proceed(run, "running"):
                return
            failure = self.faults.take_run_fault()
            if failure is not None:
                self._fail(run, failure)
                return
            started = time.monotonic()
            candidates = linkage.find_candidates(datasets, blocks, run.threshold)
            self.rate = int(total / max(time.monotonic() - started, 1e-6))
            with self.lock:
                run.progress = dict(run.progress or {}, absolute=total, relative=1.0)
            if not self._proceed(run):
                return
            with self.lock:
                run.stage, run.progress = 3, None
            result: Dict[str, Any]
            if project.result_type == "groups":
                result = linkage.groups_result(candidates)
            elif project.result_type == "similarity_scores":
                result = linkage.similarity_scores_result(candidates)
            else:
                sizes = [len(clks) for clks in datasets]
                result = linkage.permutations_result(candidates, sizes, secrets.randbits(32))
            if not self._proceed(run):
                return
            with self.lock:
                run.result, run.state, run.time_completed = result, "completed", utc_now()
        except Exception as exc:
            with self.lock:
                self.server_errors.append(f"run {run.run_id}\n{traceback.format_exc()}")
            self._fail(run, "Error during computation of run", f"{type(exc).__name__}: {exc}")

    def _fail(self, run: Run, message: str, detail: Optional[str] = None) -> None:
        with self.lock:
            run.state, run.message, run.detail = "error", message, detail
