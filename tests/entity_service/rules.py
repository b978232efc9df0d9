"""The one fault-rule engine of the test services: which injected fault applies to a request.

Both fault injectors are built on it: :class:`.faults.Faults` (the test Entity
Service's own answers) and :class:`.fault_proxy.FaultProxy` (the object store,
through a proxy). A test adds rules to a :class:`RuleBook`; for every request
the first rule, in the order they were added, that is not used up and matches
it (``method``, ``path_contains`` in the URL path, ``query_contains`` in the
query string, then the rule's own :meth:`Rule.admits`) applies, and is counted.
A rule with ``remaining=None`` (``n=None`` in the injectors' methods) applies
to every matching request until :meth:`RuleBook.clear`.

:class:`HangGate` holds the requests a ``hang`` rule caught until the test
releases them.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any, Generic, List, Optional, TypeVar


@dataclass
class Rule:
    """One injected fault; the injectors' rules add what their faults need.

    :ivar kind: what the fault does (each injector documents its kinds).
    :ivar remaining: requests it still applies to (``None``: unlimited).
    :ivar hits: requests it has applied to so far.
    """

    kind: str
    remaining: Optional[int]
    method: Optional[str] = None
    path_contains: Optional[str] = None
    query_contains: Optional[str] = None
    hits: int = 0

    @property
    def used_up(self) -> bool:
        """Whether it applies to no more requests."""
        return self.remaining is not None and self.remaining <= 0

    def matches(self, method: str, path: str, query: str = "") -> bool:
        """Whether this rule applies to a request (ignoring whether it is used up)."""
        return (
            (self.method is None or self.method.upper() == method.upper())
            and (self.path_contains is None or self.path_contains in path)
            and (self.query_contains is None or self.query_contains in query)
        )

    def admits(self, request: Any) -> bool:
        """A rule's own condition on a matching request (default: none); may update the rule's state."""
        return True


R = TypeVar("R", bound=Rule)


class RuleBook(Generic[R]):
    """The rules of one injector, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: List[R] = []

    def add(self, rule: R) -> R:
        """Add a rule after the others; returns it."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, request: Any) -> Optional[R]:
        """The rule to apply to ``request`` (with ``.method``, ``.path``, ``.query``), counting it as used."""
        with self._lock:
            for rule in self._rules:
                if rule.used_up or not rule.matches(request.method, request.path, request.query):
                    continue
                if not rule.admits(request):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule
        return None

    @property
    def pending(self) -> List[R]:
        """The rules not used up yet, in order."""
        with self._lock:
            return [rule for rule in self._rules if not rule.used_up]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()


class HangGate:
    """Where hung requests wait: :meth:`hold` blocks until :meth:`release` (or a time limit)."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._changed = threading.Condition()
        self._hung = 0

    def arm(self) -> None:
        """Hold requests again (a new ``hang`` rule was added)."""
        self._released.clear()

    def release(self) -> None:
        """Let every held request go (and those held later, until :meth:`arm`)."""
        self._released.set()

    def hold(self, limit: float = 120.0) -> None:
        """Block the calling request until released, or for ``limit`` seconds at most."""
        with self._changed:
            self._hung += 1
            self._changed.notify_all()
        deadline = time.monotonic() + limit
        try:
            while not self._released.wait(0.1) and time.monotonic() < deadline:
                pass
        finally:
            with self._changed:
                self._hung -= 1
                self._changed.notify_all()

    def wait_hung(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests are held; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._hung >= count, timeout)

    @property
    def hung(self) -> int:
        """How many requests are held right now."""
        return self._hung
