"""Fault injection for the test Entity Service: errors, slow or hung answers, garbage, dropped connections.

Each call adds a :class:`FaultRule`. For every request the first rule that
matches (method, ``path_contains`` in the URL path) and is not used up applies
(rules are tried in the order they were added). A rule with ``n=None`` applies
to every matching request until :meth:`Faults.clear`.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

#: Garbage bodies by kind: (content type, body).
GARBAGE: Dict[str, tuple] = {
    "html": ("text/html", b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
    "truncated": ("application/json", b'{"project_id": "3fa85f64c1d2", "result_tok'),
    "empty": ("application/json", b""),
    "not-json": ("application/json", b"this is not JSON"),
}


@dataclass
class FaultRule:
    """One injected fault.

    :ivar kind: ``"status"``, ``"delay"``, ``"hang"``, ``"drop"`` or ``"garbage"``.
    :ivar remaining: requests it still applies to (``None``: unlimited).
    :ivar hits: requests it has applied to so far.
    """

    kind: str
    remaining: Optional[int]
    path_contains: Optional[str] = None
    method: Optional[str] = None
    status: int = 503
    body: Optional[bytes] = None
    content_type: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    process: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (ignoring whether it is used up)."""
        return (self.method is None or self.method.upper() == method.upper()) and (
            self.path_contains is None or self.path_contains in path
        )


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
        self._rules: List[FaultRule] = []
        self._runs: List[RunFault] = []
        self._released = threading.Event()
        self._hung = 0
        self._hung_changed = threading.Condition(self._lock)

    def _add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

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
        return self._add(FaultRule("status", n, path_contains, method, status, body, content_type, dict(headers or {})))

    def delay(
        self, seconds: float, n: Optional[int] = None, path_contains: Optional[str] = None, method: Optional[str] = None
    ) -> FaultRule:
        """Wait ``seconds`` before processing matching requests (all of them unless ``n`` is given)."""
        return self._add(FaultRule("delay", n, path_contains, method, seconds=seconds))

    def hang(
        self, n: Optional[int] = 1, path_contains: Optional[str] = None, method: Optional[str] = None
    ) -> FaultRule:
        """Accept matching requests but never answer, until :meth:`release`; then close the
        connection without an answer. (A hung request gives up by itself after 120 s.)"""
        self._released.clear()
        return self._add(FaultRule("hang", n, path_contains, method))

    def drop(
        self, n: Optional[int] = 1, path_contains: Optional[str] = None, method: Optional[str] = None
    ) -> FaultRule:
        """Close the connection of the next ``n`` matching requests without any answer."""
        return self._add(FaultRule("drop", n, path_contains, method))

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
        return self._add(FaultRule("garbage", n, path_contains, method, status, body, content_type, process=process))

    def fail_runs(self, n: int = 1, message: str = "Injected failure") -> RunFault:
        """Make the next ``n`` runs end in state ``error`` (stage 2) with ``message``."""
        fault = RunFault(n, message)
        with self._lock:
            self._runs.append(fault)
        return fault

    def release(self) -> None:
        """Let every hung request go (their connections are closed without an answer)."""
        self._released.set()

    def wait_hung(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests are hung; ``False`` on timeout."""
        with self._hung_changed:
            return self._hung_changed.wait_for(lambda: self._hung >= count, timeout)

    @property
    def hung(self) -> int:
        """How many requests are hung right now."""
        return self._hung

    @property
    def rules(self) -> List[FaultRule]:
        """The rules not used up yet, in order."""
        with self._lock:
            return [r for r in self._rules if r.remaining is None or r.remaining > 0]

    def clear(self) -> None:
        """Remove every rule and run fault, and release hung requests."""
        with self._lock:
            self._rules.clear()
            self._runs.clear()
        self.release()

    # Used by the service -------------------------------------------------

    def take(self, method: str, path: str) -> Optional[FaultRule]:
        """The rule to apply to a request, counting it as used (service side)."""
        with self._lock:
            for rule in self._rules:
                if (rule.remaining is None or rule.remaining > 0) and rule.matches(method, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.hits += 1
                    return rule
        return None

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
        with self._hung_changed:
            self._hung += 1
            self._hung_changed.notify_all()
        deadline = time.monotonic() + limit
        try:
            while not self._released.wait(0.1) and time.monotonic() < deadline:
                pass
        finally:
            with self._hung_changed:
                self._hung -= 1
                self._hung_changed.notify_all()
