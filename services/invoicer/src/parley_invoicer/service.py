"""Issuing an invoice: the one use case, with its ports.

The order matters: the input is fully validated before a number is drawn, because a
drawn number is spent for good (numbers are never reused), and a gap in the sequence
is something the seller would have to explain to a tax auditor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from opentelemetry import trace

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.numbering import InvoiceNumberAllocator, InvoiceSeries

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
    """The number and the PDF of a freshly issued invoice."""

    number: str
    pdf: bytes


class InvoiceIssuer:
    """Numbers, dates and renders an order's invoice."""

    def __init__(
        self,
        allocator: InvoiceNumberAllocator,
        renderer: InvoiceRenderer,
        clock: Clock = utc_now,
    ) -> None:
        self._allocator = allocator
        self._renderer = renderer
        self._clock = clock

    async def issue(self, order: InvoiceRequest, settings: InvoiceSettings) -> IssuedInvoice:
        # The invoice date is the seller's calendar day, not UTC's: an order invoiced at
        # 00:30 in Warsaw belongs to that day (and, on 1 January, to that year's series).
        issue_date = self._clock().astimezone(ZoneInfo(settings.time_zone)).date()
        series = InvoiceSeries(
            seller_vat_id=settings.seller.vat_id,
            prefix=settings.numbering_prefix,
            year=issue_date.year,
        )
        number = str(await self._allocator.allocate(series))
        invoice = Invoice.draw_up(number, issue_date, order, settings)
        try:
            with tracer.start_as_current_span(
                "invoice.render", attributes={"invoice.number": number}
            ):
                pdf = await self._renderer.render_pdf(invoice)
        except Exception:
            # The number is spent: say so, so the gap in the series can be accounted for.
            logger.exception(
                "invoice number allocated but not rendered",
                extra={"invoice_number": number, "order_id": order.order_id},
            )
            raise
        # Order id and number only: buyer names and addresses stay out of the logs.
        logger.info(
            "invoice issued",
            extra={
                "invoice_number": number,
                "order_id": order.order_id,
                "language": invoice.language.value,
                "lines": len(order.lines),
            },
        )
        return IssuedInvoice(number=number, pdf=pdf)
