"""Fault injection: make the next N calls of an instance misbehave, on purpose.

Real marketplaces throttle, fail, stall and now and then send something that does
not match their documentation. Parley must survive each of these, so tests arm a
fault through the control API and watch the client and services cope. Faults are
consumed in the order they were armed; each call takes at most one.

Every family uses these faults; a family only says which operation names it has and
which of them answer a document (JSON, XML) that a corrupting fault can spoil
(:class:`FaultTargets`): a file download cannot be "malformed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After
    SERVER_ERROR = "server_error"  # 5xx with a Mirakl-style error body
    SLOW = "slow"  # answers normally, after a delay
    MALFORMED = "malformed"  # valid JSON, but a thread misses required fields
    GARBAGE = "garbage"  # 200 with a body that is not JSON at all
    # The write is done, then the answer is held back for ``delay_seconds``: what a
    # client sees when a marketplace commits and the response is lost (timeout, crash).
    LOST_ANSWER = "lost_answer"


# Faults that corrupt a document answer make no sense for a file download.
CORRUPTING = frozenset({FaultKind.MALFORMED, FaultKind.GARBAGE})
# Mirakl's operations (the first family; the default of a bare Fault).
JSON_OPERATIONS = frozenset({"M10", "M11", "M12", "OR72", "OR74"})
OPERATIONS = frozenset({"M10", "M11", "M12", "M13", "OR72", "OR74"})


@dataclass(frozen=True)
class FaultTargets:
    """A family's operation names, and those answering a document (None: all of them)."""

    operations: frozenset[str]
    documents: frozenset[str] | None


MIRAKL_TARGETS = FaultTargets(OPERATIONS, JSON_OPERATIONS)


@dataclass
class Fault:
    kind: FaultKind
    remaining: int = 1
    operations: frozenset[str] = frozenset()  # empty: every operation
    retry_after: int = 30
    status: int = 500
    delay_seconds: float = 2.0
    # Where a corrupting fault can strike (None: every operation).
    documents: frozenset[str] | None = JSON_OPERATIONS

    def applies_to(self, operation: str) -> bool:
        if self.operations and operation not in self.operations:
            return False
        spares = self.documents is not None and operation not in self.documents
        return not (self.kind in CORRUPTING and spares)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "remaining": self.remaining,
            "operations": sorted(self.operations),
            "retry_after": self.retry_after,
            "status": self.status,
            "delay_seconds": self.delay_seconds,
        }


@dataclass
class FaultQueue:
    """The faults armed on one instance, oldest first."""

    _faults: list[Fault] = field(default_factory=list)

    def arm(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, operation: str) -> Fault | None:
        """The fault this call must suffer, if any; it counts as one of its N calls."""
        for fault in self._faults:
            if fault.applies_to(operation):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self._faults]
