"""Fault injection for the test Entity Service: errors, slow or hung answers, garbage, dropped connections.

Each call adds a :class:`FaultRule` to the rule engine of :mod:`.rules`: for
every request the first rule that matches (method, ``path_contains`` in the URL
path) and is not used up applies (rules are tried in the order they were added).
A rule with ``n=None`` applies to every matching request until :meth:`Faults.clear`.
"""

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from tests.entity_service.rules import HangGate, Rule, RuleBook

#: Garbage bodies by kind: (content type, body).
GARBAGE: Dict[str, tuple] = {
    "html": ("text/html", b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
    "truncated": ("application/json", b'{"project_id": "3fa85f64c1d2", "result_tok'),
    "empty": ("application/json", b""),
    "not-json": ("application/json", b"this is not JSON"),
}


@dataclass
class FaultRule(Rule):
    """One injected fault of the service (see :class:`~.rules.Rule` for matching and counting).

    :ivar kind: ``"status"``, ``"delay"``, ``"hang"``, ``"drop"`` or ``"garbage"``.
    """

    status: int = 503
    body: Optional[bytes] = None
    content_type: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    process: bool = False


@dataclass
class RunFault:
    """Make the next ``remaining`` runs that compute end in state ``error`` with ``message``."""

    remaining: int
    message: str


class Faults:
    """The faults to inject, set by tests: ``service.faults.fail_next(2, status=503)``.

    Every method returns the rule it added; rules are consumed in order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._book: RuleBook[FaultRule] = RuleBook()
        self._runs: List[RunFault] = []
        self._gate = HangGate()

    def _add(self, rule: FaultRule) -> FaultRule:
        return self._book.add(rule)

    def fail_next(
        self,
        n: Optional[int] = 1,
        status: int = 503,
        path_contains: Optional[str] = None,
        method: Optional[str] = None,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> FaultRule:
        """Answer the next ``n`` matching requests with ``status``, without processing them.

        The body is an ``application/problem+json`` problem for ``status`` unless
        ``body`` (and ``content_type``) are given; ``headers`` are added (e.g. ``Retry-After``).
        """
        return self._add(
            FaultRule(
                "status",
                n,
                method,
                path_contains,
                status=status,
                body=body,
                content_type=content_type,
                headers=dict(headers or {}),
            )
        )

    def delay(
        self, seconds: float, n: Optional[int] = None, path_contains: Optional[str] = None, method: Optional[str] = None
    ) -> FaultRule:
        """Wait ``seconds`` before processing matching requests (all of them unless ``n`` is given)."""
        return self._add(FaultRule("delay", n, method, path_contains, seconds=seconds))

    def hang(
        self, n: Optional[int] = 1, path_contains: Optional[str] = None, method: Optional[str] = None
    ) -> FaultRule:
        """Accept matching requests but never answer, until :meth:`release`; then close the
        connection without an answer. (A hung request gives up by itself after 120 s.)"""
        self._gate.arm()
        return self._add(FaultRule("hang", n, method, path_contains))

    def drop(
        self, n: Optional[int] = 1, path_contains: Optional[str] = None, method: Optional[str] = None
    ) -> FaultRule:
        """Close the connection of the next ``n`` matching requests without any answer."""
        return self._add(FaultRule("drop", n, method, path_contains))

    def garbage(
        self,
        n: Optional[int] = 1,
        kind: str = "html",
        status: int = 200,
        path_contains: Optional[str] = None,
        method: Optional[str] = None,
        process: bool = False,
    ) -> FaultRule:
        """Answer the next ``n`` matching requests with ``status`` and a garbage body.

        :param kind: ``"html"`` (an nginx error page), ``"truncated"`` (cut-off JSON),
            ``"empty"`` or ``"not-json"``.
        :param process: process the request for real first (it takes effect; only
            the answer is lost), instead of leaving it undone.
        """
        if kind not in GARBAGE:
            raise ValueError(f"kind must be one of {sorted(GARBAGE)}")
        content_type, body = GARBAGE[kind]
        return self._add(
            FaultRule(
                "garbage",
                n,
                method,
                path_contains,
                status=status,
                body=body,
                content_type=content_type,
                process=process,
            )
        )

    def fail_runs(self, n: int = 1, message: str = "Injected failure") -> RunFault:
        """Make the next ``n`` runs end in state ``error`` (stage 2) with ``message``."""
        fault = RunFault(n, message)
        with self._lock:
            self._runs.append(fault)
        return fault

    def release(self) -> None:
        """Let every hung request go (their connections are closed without an answer)."""
        self._gate.release()

    def wait_hung(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests are hung; ``False`` on timeout."""
        return self._gate.wait_hung(count, timeout)

    @property
    def hung(self) -> int:
        """How many requests are hung right now."""
        return self._gate.hung

    @property
    def rules(self) -> List[FaultRule]:
        """The rules not used up yet, in order."""
        return self._book.pending

    def clear(self) -> None:
        """Remove every rule and run fault, and release hung requests."""
        self._book.clear()
        with self._lock:
            self._runs.clear()
        self.release()

    # Used by the service -------------------------------------------------

    def take(self, request: Any) -> Optional[FaultRule]:
        """The rule to apply to a request (``.method``, ``.path``, ``.query``), counting it as used (service side)."""
        return self._book.take(request)

    def take_run_fault(self) -> Optional[str]:
        """The message a starting run must fail with, if a run fault is pending (service side)."""
        with self._lock:
            for fault in self._runs:
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault.message
        return None

    def wait_released(self, limit: float = 120.0) -> None:
        """Block a hung request until :meth:`release` (service side)."""
        self._gate.hold(limit)
