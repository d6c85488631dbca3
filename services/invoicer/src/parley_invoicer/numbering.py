"""Invoice numbers: ``{prefix}-{year}-{seq:06d}``, strictly increasing per series, never reused.

The EU VAT directive (art. 226) asks for a sequential number, in one or more series,
that identifies each invoice uniquely; France (CGI annex II art. 242 nonies A) adds
that the sequence be continuous. A yearly series is allowed, and a series is keyed by
the seller's VAT id as well as the prefix and the year: two stores of one company with
the same prefix share a sequence, two companies never do, even with the same prefix.

The allocator is a port: the in-memory one here serves tests and a single process;
the MongoDB one (an atomic ``$inc`` with upsert per series) will make the sequence
survive restarts and span replicas.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

MAX_SEQUENCE = 999_999
"""Six digits: beyond this numbers would stop sorting in issue order, so we refuse."""


@dataclass(frozen=True, order=True)
class InvoiceSeries:
    """One unbroken sequence of invoice numbers."""

    seller_vat_id: str
    prefix: str
    year: int


@dataclass(frozen=True, order=True)
class InvoiceNumber:
    """A number allocated in a series; ``str()`` gives the printed form."""

    series: InvoiceSeries
    sequence: int

    def __str__(self) -> str:
        return f"{self.series.prefix}-{self.series.year:04d}-{self.sequence:06d}"


class SeriesExhaustedError(RuntimeError):
    """The series has used all its numbers; the seller needs a new prefix."""


class InvoiceNumberAllocator(Protocol):
    """Hands out the next number of a series; a number handed out is never handed out
    again, even if the invoice it was meant for is never rendered."""

    async def allocate(self, series: InvoiceSeries) -> InvoiceNumber: ...


class InMemoryInvoiceNumberAllocator:
    """Counters in a dict, guarded by a lock so threads cannot draw the same number."""

    def __init__(self) -> None:
        self._last: dict[InvoiceSeries, int] = {}
        self._lock = threading.Lock()

    async def allocate(self, series: InvoiceSeries) -> InvoiceNumber:
        with self._lock:
            sequence = self._last.get(series, 0) + 1
            if sequence > MAX_SEQUENCE:
                raise SeriesExhaustedError(f"series {series.prefix}-{series.year} is full")
            self._last[series] = sequence
        return InvoiceNumber(series, sequence)
