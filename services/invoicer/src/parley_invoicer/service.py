"""Issuing invoices and credit notes, listing and fetching them: the use cases.

The order matters: the input is fully validated before a number is drawn, because a
drawn number is spent for good (numbers are never reused), and a gap in the sequence
is something the seller would have to explain to a tax auditor. How numbers are
claimed, bound to orders and voided, and why that is safe on FerretDB v1 too, is in
:mod:`parley_invoicer.numbering`; this module runs those steps against the ledger port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from opentelemetry import trace

from parley_invoicer.domain.invoice import DocumentKind, Invoice, InvoiceReference
from parley_invoicer.domain.models import (
    InvoiceLine,
    InvoiceRequest,
    InvoiceSettings,
    RefundRequest,
)
from parley_invoicer.domain.refund import refund_line_problems
from parley_invoicer.numbering import InvoiceSeries, credit_key, next_candidate, order_key
from parley_invoicer.ports import (
    Claim,
    DocumentQuery,
    Intent,
    InvoiceLedger,
    InvoiceRecord,
    listing_fields,
)

tracer = trace.get_tracer(__name__)
logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class InvoiceRenderer(Protocol):
    """Turns an issued invoice into the document the buyer receives."""

    async def render_pdf(self, invoice: Invoice) -> bytes: ...


@dataclass(frozen=True)
class IssuedInvoice:
    """An order's invoice (or a refund's credit note): its number, its PDF as stored,
    and whether this call made it."""

    number: str
    pdf: bytes
    file_id: str
    created: bool = True
    kind: DocumentKind = DocumentKind.INVOICE


class NotFoundError(LookupError):
    """No stored document (or settings) with that id."""


class InvalidRefundError(ValueError):
    """The refund credits what the invoice did not charge; ``fields`` maps each
    offending field (a JSON Pointer into the request) to why."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


class NotInvoicedError(LookupError):
    """A credit note was asked for an order that has no invoice to correct."""


@dataclass(frozen=True)
class DocumentSummary:
    """One listed document: what the gateway shows on a discussion or an order."""

    number: str
    kind: DocumentKind
    issue_date: date
    store_id: str
    marketplace: str
    order_id: str
    discussion_id: str | None
    currency: str
    total_incl_vat: str
    file_id: str | None
    corrects: str | None


INTENT_LEASE = timedelta(seconds=30)
"""How long a request for an order is waited for by the others asking for the same
order; past it, its process is taken for dead and the others go ahead."""


class InvoiceIssuer:
    """Numbers, dates, renders and stores documents: an order's invoice once per order,
    a refund's credit note once per refund id. Both run the same claim, bind and store
    steps (:mod:`parley_invoicer.numbering`), keyed by the order or by the refund."""

    def __init__(
        self,
        ledger: InvoiceLedger,
        renderer: InvoiceRenderer,
        clock: Clock = utc_now,
        *,
        intent_lease: timedelta = INTENT_LEASE,
        poll_seconds: float = 0.05,
    ) -> None:
        self._ledger = ledger
        self._renderer = renderer
        self._clock = clock
        self._lease = intent_lease
        self._poll = poll_seconds

    async def issue(self, order: InvoiceRequest, settings: InvoiceSettings) -> IssuedInvoice:
        """The order's invoice: made now the first time, the stored one ever after."""
        key = order_key(order.store_id, order.marketplace, order.order_id)
        request = {
            "kind": DocumentKind.INVOICE.value,
            "order": order.model_dump(mode="json"),
            "settings": settings.model_dump(mode="json"),
        }
        return await self._issue(key, request, settings, settings.numbering_prefix)

    async def credit(self, refund: RefundRequest, settings: InvoiceSettings) -> IssuedInvoice:
        """The refund's credit note, correcting the order's invoice: made the first time
        the refund id is seen, the stored one ever after. Numbered in the credit note
        series if the settings name one, else in the invoices' series."""
        key = credit_key(refund.store_id, refund.marketplace, refund.refund_id)
        if (existing := await self._ledger.find(key)) is not None:
            return await self._complete(existing, created=False)
        invoice = await self._ledger.find(
            order_key(refund.store_id, refund.marketplace, refund.order_id)
        )
        if invoice is None or invoice.request.get("kind", "invoice") != "invoice":
            raise NotInvoicedError(
                f"order {refund.order_id} of {refund.marketplace} has no invoice to credit"
            )
        if refund.lines is not None:
            invoiced = InvoiceRequest.model_validate(invoice.request["order"]).lines
            problems = refund_line_problems(invoiced, refund.lines)
            if problems:
                raise InvalidRefundError(
                    {f"#/refund/lines/{where}": why for where, why in problems.items()}
                )
        request = {
            "kind": DocumentKind.CREDIT_NOTE.value,
            "order": invoice.request["order"],
            "settings": settings.model_dump(mode="json"),
            "refund": refund.model_dump(mode="json"),
            "corrects": {"number": invoice.number, "issue_date": invoice.issue_date.isoformat()},
        }
        prefix = settings.credit_note_prefix or settings.numbering_prefix
        return await self._issue(key, request, settings, prefix)

    async def _issue(
        self, key: str, request: dict[str, Any], settings: InvoiceSettings, prefix: str
    ) -> IssuedInvoice:
        record = await self._ledger.find(key)
        created = False  # this call numbered the document (201), or another one did (200)
        if record is None:
            ours = Intent(uuid.uuid4().hex, self._clock())
            record = await self._bound_or_waited(key, ours)
            if record is None:
                created = True
                # The invoice date is the seller's calendar day, not UTC's: an order
                # invoiced at 00:30 in Warsaw belongs to that day (and, on 1 January, to
                # that year's series).
                issue_date = self._clock().astimezone(ZoneInfo(settings.time_zone)).date()
                series = InvoiceSeries(settings.seller.vat_id, prefix, issue_date.year)
                try:
                    record = await self._claim_and_bind(key, request, series, issue_date)
                except BaseException:
                    # Not bound (series full, store down): the order's next request
                    # should not wait out our lease (best effort: the store may be
                    # what failed, and the original error is the one to report).
                    with contextlib.suppress(Exception):
                        await self._ledger.release(key, ours.token)
                    raise
        return await self._complete(record, created=created)

    async def documents(self, query: DocumentQuery) -> list[DocumentSummary]:
        """The invoices and credit notes of an order or a discussion, by number."""
        return [_summary(record) for record in await self._ledger.documents(query)]

    async def pdf(self, file_id: str) -> bytes:
        """A stored document's PDF; NotFoundError if there is none with that id."""
        try:
            return await self._ledger.load_pdf(file_id)
        except LookupError as exc:
            raise NotFoundError(f"no stored invoice file {file_id}") from exc

    async def _bound_or_waited(self, key: str, ours: Intent) -> InvoiceRecord | None:
        """None when this request is to number the order; else the binding another
        request made while we waited for it (None too if that request died)."""
        first = await self._ledger.intend(key, ours)
        if first.token == ours.token:
            return None
        # Waited on the monotonic clock: the lease's start is the other request's.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (first.at + self._lease - self._clock()).total_seconds()
        while True:  # another process binds it: nothing to wait on but the store
            record = await self._ledger.find(key)
            if record is not None or loop.time() >= deadline:
                return record
            await asyncio.sleep(self._poll)

    async def _claim_and_bind(
        self, key: str, request: dict[str, Any], series: InvoiceSeries, issue_date: date
    ) -> InvoiceRecord:
        sequence = await self._ledger.hint(series.key)
        while True:
            number = series.number(sequence)  # SeriesExhaustedError past the last one
            claim = Claim(
                series_key=series.key,
                sequence=sequence,
                number=str(number),
                order_key=key,
                issue_date=issue_date,
                request=request,
                claimed_at=self._clock(),
            )
            if await self._ledger.claim(claim):
                break
            sequence = next_candidate(sequence, await self._ledger.hint(series.key))
        await self._ledger.raise_hint(series.key, sequence + 1)
        return await self._bind(claim)

    async def _bind(self, claim: Claim) -> InvoiceRecord:
        """Bind the claim to its order, or void it if the order has another number."""
        bound = await self._ledger.bind(InvoiceRecord.of(claim))
        if (bound.series_key, bound.sequence) != (claim.series_key, claim.sequence):
            reason = f"order {claim.order_key} was invoiced as {bound.number} meanwhile"
            await self._ledger.void(claim.series_key, claim.sequence, reason)
            logger.warning(
                "invoice number voided",
                extra={"invoice_number": claim.number, "bound_number": bound.number},
            )
        return bound

    async def _complete(self, record: InvoiceRecord, *, created: bool) -> IssuedInvoice:
        """The record's PDF: read back if stored, else rendered from the record (any
        process can: the record holds everything) and stored, first copy wins."""
        kind = DocumentKind(record.request.get("kind", DocumentKind.INVOICE.value))
        if record.file_id is not None:
            pdf = await self._ledger.load_pdf(record.file_id)
            return IssuedInvoice(record.number, pdf, record.file_id, created=False, kind=kind)
        invoice = document_of(record)
        order = invoice.order
        try:
            with tracer.start_as_current_span(
                "invoice.render", attributes={"invoice.number": record.number}
            ):
                pdf = await self._renderer.render_pdf(invoice)
        except Exception:
            # The number stays the order's: its next request renders it again.
            logger.exception(
                "invoice number bound but not rendered",
                extra={"invoice_number": record.number, "order_id": order.order_id},
            )
            raise
        stored = await self._ledger.save_pdf(record.order_key, record.number, pdf)
        await self._ledger.mark_stored(record.order_key, stored.file_id)
        # Order id and number only: buyer names and addresses stay out of the logs.
        logger.info(
            "invoice issued",
            extra={
                "invoice_number": record.number,
                "kind": kind.value,
                "order_id": order.order_id,
                "language": invoice.language.value,
                "lines": len(order.lines),
            },
        )
        return IssuedInvoice(
            record.number, stored.content, stored.file_id, created=created, kind=kind
        )

    async def sweep(self, grace: timedelta = INTENT_LEASE) -> int:
        """Resolve claims left in flight (a process died between claim and bind) that
        are older than ``grace``: bind each to its order, or void it. Returns how many
        were resolved. Safe to run anywhere, any time, concurrently with requests."""
        resolved = 0
        now = self._clock()
        for series_key in await self._ledger.series_keys():
            for claim in await self._ledger.claims(series_key):
                if claim.voided is not None or claim.claimed_at > now - grace:
                    continue
                bound = await self._ledger.find(claim.order_key)
                if bound is not None and (bound.series_key, bound.sequence) == (
                    claim.series_key,
                    claim.sequence,
                ):
                    continue
                await self._bind(claim)
                resolved += 1
        return resolved


def document_of(record: InvoiceRecord) -> Invoice:
    """The invoice or credit note a bound record stands for, drawn up again from it."""
    order = InvoiceRequest.model_validate(record.request["order"])
    settings = InvoiceSettings.model_validate(record.request["settings"])
    if record.request.get("kind", "invoice") == DocumentKind.INVOICE.value:
        return Invoice.draw_up(record.number, record.issue_date, order, settings)
    refund = RefundRequest.model_validate(record.request["refund"])
    corrects = record.request["corrects"]
    lines: tuple[InvoiceLine, ...] | None = refund.lines
    return Invoice.credit_note(
        record.number,
        record.issue_date,
        order,
        settings,
        InvoiceReference(corrects["number"], date.fromisoformat(corrects["issue_date"])),
        lines=lines,
        reason=refund.reason,
    )


def _summary(record: InvoiceRecord) -> DocumentSummary:
    document = document_of(record)
    listing = listing_fields(record.request)
    return DocumentSummary(
        number=record.number,
        kind=document.kind,
        issue_date=record.issue_date,
        store_id=document.order.store_id,
        marketplace=document.order.marketplace,
        order_id=document.order.order_id,
        discussion_id=listing["discussion_id"],
        currency=document.order.currency,
        total_incl_vat=f"{document.totals.total_incl_vat:f}",
        file_id=record.file_id,
        corrects=document.corrects.number if document.corrects else None,
    )
