"""The invoicer's storage port: unique inserts and reads by ``_id``, nothing more.

Every method that decides something is an insert of a unique ``_id`` where the first
writer wins and the others learn the winner; updates only write values every writer
would write alike (a hint, a void reason, a file id). That is what stays correct on
FerretDB v1, whose updates are not atomic (see :mod:`parley_invoicer.numbering`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Claim:
    """Number ``sequence`` of ``series_key`` taken for the order ``order_key``, with what
    is needed to bind and render it if its claimer dies (``request``: order and settings
    as JSON)."""

    series_key: str
    sequence: int
    number: str
    order_key: str
    issue_date: date
    request: dict[str, Any]
    claimed_at: datetime
    voided: str | None = None


@dataclass(frozen=True)
class InvoiceRecord:
    """A document (an order's invoice, or a refund's credit note) bound to its number;
    ``file_id`` is set once its PDF is stored. ``order_key`` is the document's key:
    the order's for an invoice, the refund's for a credit note."""

    order_key: str
    series_key: str
    sequence: int
    number: str
    issue_date: date
    request: dict[str, Any]
    file_id: str | None = None

    @classmethod
    def of(cls, claim: Claim) -> InvoiceRecord:
        return cls(
            order_key=claim.order_key,
            series_key=claim.series_key,
            sequence=claim.sequence,
            number=claim.number,
            issue_date=claim.issue_date,
            request=claim.request,
        )


@dataclass(frozen=True)
class Intent:
    """A request working on an order (``token``) since ``at``."""

    token: str
    at: datetime


@dataclass(frozen=True)
class StoredPdf:
    file_id: str
    content: bytes


class InvoiceLedger(Protocol):
    async def hint(self, series_key: str) -> int:
        """Where to start looking for a free number (1 for a new series)."""
        ...

    async def raise_hint(self, series_key: str, next_sequence: int) -> None:
        """Move the hint up to ``next_sequence`` (never down, on a faithful store)."""
        ...

    async def claim(self, claim: Claim) -> bool:
        """Take the claim's number; False if it was taken already."""
        ...

    async def claims(self, series_key: str) -> list[Claim]:
        """Every claim of a series, by sequence (audits and the sweep)."""
        ...

    async def series_keys(self) -> list[str]:
        """Every series with a hint (the sweep walks them)."""
        ...

    async def void(self, series_key: str, sequence: int, reason: str) -> None:
        """Record why a claimed number will never be an invoice."""
        ...

    async def bind(self, record: InvoiceRecord) -> InvoiceRecord:
        """Bind the order to the record's number unless it is bound already; returns
        the binding that holds (the first one)."""
        ...

    async def find(self, order_key: str) -> InvoiceRecord | None: ...

    async def intend(self, order_key: str, intent: Intent) -> Intent:
        """Say a request works on the order; returns the first intent (maybe ours)."""
        ...

    async def release(self, order_key: str, token: str) -> None:
        """Withdraw our intent (``token``) on the order, if it is still there: its
        request failed before binding, so nobody should wait for it."""
        ...

    async def save_pdf(self, order_key: str, number: str, pdf: bytes) -> StoredPdf:
        """Store the order's PDF unless one is stored; returns the one kept."""
        ...

    async def load_pdf(self, file_id: str) -> bytes: ...

    async def mark_stored(self, order_key: str, file_id: str) -> None:
        """Note on the order's record where its PDF is (every writer writes the same)."""
        ...

    async def documents(self, query: DocumentQuery) -> list[InvoiceRecord]:
        """The bound documents (invoices and credit notes) matching ``query``, oldest
        number first."""
        ...


@dataclass(frozen=True)
class DocumentQuery:
    """Which documents to list: those of one order, or those of one discussion."""

    store_id: str | None = None
    marketplace: str | None = None
    order_id: str | None = None
    discussion_id: str | None = None

    def matches(self, listing: dict[str, Any]) -> bool:
        """Whether a record's listing fields (:func:`listing_fields`) match."""
        wanted = {k: v for k, v in vars(self).items() if v is not None}
        return all(listing.get(k) == v for k, v in wanted.items())


def listing_fields(request: dict[str, Any]) -> dict[str, Any]:
    """What a record is listed by, read from its request (order, or refund)."""
    order = request.get("order", {})
    refund = request.get("refund") or {}
    return {
        "kind": request.get("kind", "invoice"),
        "store_id": order.get("store_id"),
        "marketplace": order.get("marketplace"),
        "order_id": order.get("order_id"),
        "discussion_id": refund.get("discussion_id") or order.get("discussion_id"),
    }


class SettingsStore(Protocol):
    """Each store's invoice settings, as last saved (JSON as validated by the API)."""

    async def get(self, store_id: str) -> dict[str, Any] | None: ...

    async def put(self, store_id: str, settings: dict[str, Any]) -> None: ...
