"""Issuing an invoice: the seller's date decides the series, spent numbers stay spent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from parley_invoicer.adapters.memory import InMemoryInvoiceLedger
from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.service import InvoiceIssuer

MakeOrder = Callable[..., InvoiceRequest]


class RecordingRenderer:
    """Stands in for WeasyPrint: keeps the invoices it was asked to render."""

    def __init__(self, fail: bool = False) -> None:
        self.rendered: list[Invoice] = []
        self.fail = fail

    async def render_pdf(self, invoice: Invoice) -> bytes:
        if self.fail:
            raise RuntimeError("renderer down")
        self.rendered.append(invoice)
        return b"%PDF-fake " + invoice.number.encode()


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


async def test_the_invoice_is_dated_in_the_seller_time_zone(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    # 23:30 UTC on 31 December is already New Year in Warsaw: new day, new yearly series.
    renderer = RecordingRenderer()
    issuer = InvoiceIssuer(
        InMemoryInvoiceLedger(),
        renderer,
        clock=fixed_clock(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)),
    )
    warsaw = settings.model_copy(update={"time_zone": "Europe/Warsaw"})

    issued = await issuer.issue(make_order(), warsaw)

    assert issued.number == "FA-2027-000001"
    assert renderer.rendered[0].issue_date == date(2027, 1, 1)


async def test_due_date_follows_payment_terms(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    renderer = RecordingRenderer()
    issuer = InvoiceIssuer(
        InMemoryInvoiceLedger(),
        renderer,
        clock=fixed_clock(datetime(2026, 3, 12, 9, 0, tzinfo=UTC)),
    )
    terms = settings.payment_terms.model_copy(update={"due_in_days": 30})

    await issuer.issue(make_order(), settings.model_copy(update={"payment_terms": terms}))

    assert renderer.rendered[0].due_date == date(2026, 4, 11)


async def test_a_failed_rendering_keeps_its_number_for_the_order_and_says_so(
    make_order: MakeOrder, settings: InvoiceSettings, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = InMemoryInvoiceLedger()
    clock = fixed_clock(datetime(2026, 3, 12, 9, 0, tzinfo=UTC))

    with pytest.raises(RuntimeError):
        await InvoiceIssuer(ledger, RecordingRenderer(fail=True), clock).issue(
            make_order(), settings
        )
    # The number is the order's: its next request renders it, no number is lost.
    retried = await InvoiceIssuer(ledger, RecordingRenderer(), clock).issue(make_order(), settings)
    other = await InvoiceIssuer(ledger, RecordingRenderer(), clock).issue(
        make_order(order_id="ORDER-2"), settings
    )

    assert (retried.number, other.number) == ("FA-2026-000001", "FA-2026-000002")
    assert retried.pdf == b"%PDF-fake FA-2026-000001"
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert getattr(record, "invoice_number", None) == "FA-2026-000001"
