"""Credit notes: one per refund id, numbered in their own series or the invoices', always
naming the invoice they correct; and the listings by order and by discussion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from parley_invoicer.adapters.memory import InMemoryInvoiceLedger
from parley_invoicer.domain.invoice import DocumentKind, Invoice, InvoiceReference
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings, RefundRequest
from parley_invoicer.ports import DocumentQuery
from parley_invoicer.service import InvalidRefundError, InvoiceIssuer, NotInvoicedError

MakeOrder = Callable[..., InvoiceRequest]


class RecordingRenderer:
    def __init__(self) -> None:
        self.rendered: list[Invoice] = []

    async def render_pdf(self, invoice: Invoice) -> bytes:
        self.rendered.append(invoice)
        return b"%PDF-fake " + invoice.number.encode()


def refund(refund_id: str = "R-1", **fields: object) -> RefundRequest:
    return RefundRequest.model_validate(
        {
            "store_id": "store-1",
            "marketplace": "carrefour",
            "order_id": "ORDER-1",
            "refund_id": refund_id,
            **fields,
        }
    )


@pytest.fixture
def renderer() -> RecordingRenderer:
    return RecordingRenderer()


@pytest.fixture
def issuer(renderer: RecordingRenderer) -> InvoiceIssuer:
    moment = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    return InvoiceIssuer(InMemoryInvoiceLedger(), renderer, clock=lambda: moment)


async def test_a_credit_note_corrects_the_order_invoice_once_per_refund(
    issuer: InvoiceIssuer,
    renderer: RecordingRenderer,
    make_order: MakeOrder,
    settings: InvoiceSettings,
) -> None:
    own_series = settings.model_copy(update={"credit_note_prefix": "AV"})
    invoice = await issuer.issue(make_order(), own_series)

    first = await issuer.credit(refund(reason="Colis perdu"), own_series)
    again = await issuer.credit(refund(reason="Colis perdu"), own_series)
    second = await issuer.credit(refund("R-2"), own_series)

    assert invoice.number == "FA-2026-000001"
    assert (first.number, first.kind, first.created) == (
        "AV-2026-000001",
        DocumentKind.CREDIT_NOTE,
        True,
    )
    assert (again.number, again.file_id, again.pdf, again.created) == (
        first.number,
        first.file_id,
        first.pdf,
        False,
    )
    assert second.number == "AV-2026-000002"
    note = renderer.rendered[1]
    assert note.kind is DocumentKind.CREDIT_NOTE
    assert note.corrects == InvoiceReference("FA-2026-000001", date(2026, 3, 20))
    assert note.reason == "Colis perdu"
    assert len(renderer.rendered) == 3  # the repeat was read back, not rendered again


async def test_without_a_series_of_their_own_credit_notes_follow_the_invoices(
    issuer: InvoiceIssuer, make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    await issuer.issue(make_order(), settings)

    note = await issuer.credit(refund(), settings)
    nxt = await issuer.issue(make_order(order_id="ORDER-2"), settings)

    assert (note.number, nxt.number) == ("FA-2026-000002", "FA-2026-000003")


async def test_a_partial_refund_credits_only_its_lines(
    issuer: InvoiceIssuer,
    renderer: RecordingRenderer,
    make_order: MakeOrder,
    settings: InvoiceSettings,
    line: Callable[[str, str, str, str], dict[str, str]],
) -> None:
    order = make_order(lines=[line("A", "2", "10.00", "20"), line("B", "1", "5.00", "5.5")])
    await issuer.issue(order, settings)

    await issuer.credit(refund(lines=[line("A", "1", "10.00", "20")]), settings)

    note = renderer.rendered[-1]
    assert [i.line.sku for i in note.totals.lines] == ["A"]
    assert str(note.totals.total_incl_vat) == "12.00"


async def test_an_order_never_invoiced_cannot_be_credited_and_spends_no_number(
    issuer: InvoiceIssuer, make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    with pytest.raises(NotInvoicedError):
        await issuer.credit(refund(order_id="NEVER"), settings)

    assert (await issuer.issue(make_order(), settings)).number == "FA-2026-000001"


async def test_documents_are_listed_by_order_and_by_discussion(
    issuer: InvoiceIssuer, make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    await issuer.issue(make_order(discussion_id="disc-1"), settings)
    await issuer.issue(make_order(order_id="ORDER-2", discussion_id="disc-2"), settings)
    await issuer.credit(refund(), settings)

    by_order = await issuer.documents(
        DocumentQuery(store_id="store-1", marketplace="carrefour", order_id="ORDER-1")
    )
    by_discussion = await issuer.documents(DocumentQuery(discussion_id="disc-1"))
    other = await issuer.documents(DocumentQuery(discussion_id="disc-2"))

    assert [(d.number, d.kind, d.corrects) for d in by_order] == [
        ("FA-2026-000001", DocumentKind.INVOICE, None),
        ("FA-2026-000003", DocumentKind.CREDIT_NOTE, "FA-2026-000001"),
    ]
    assert [d.number for d in by_discussion] == ["FA-2026-000001", "FA-2026-000003"]
    assert [d.number for d in other] == ["FA-2026-000002"]
    assert by_order[0].total_incl_vat == "12.00"
    assert all(d.file_id for d in by_order)


async def test_a_refund_of_what_the_invoice_did_not_charge_is_refused_before_numbering(
    issuer: InvoiceIssuer,
    make_order: MakeOrder,
    settings: InvoiceSettings,
    line: Callable[[str, str, str, str], dict[str, str]],
) -> None:
    await issuer.issue(make_order(lines=[line("A", "2", "10.00", "20")]), settings)
    wrong = refund(
        lines=[
            line("A", "3", "10.00", "20"),  # 3 of the 2 sold
            line("Z", "1", "1.00", "20"),  # never sold
            line("A", "1", "10.00", "5.5"),  # sold at 20 %
        ]
    )

    with pytest.raises(InvalidRefundError) as refused:
        await issuer.credit(wrong, settings)

    assert refused.value.fields.keys() == {
        "#/refund/lines/0/quantity",
        "#/refund/lines/1/sku",
        "#/refund/lines/2/vat_rate",
        "#/refund/lines/2/quantity",
    }
    assert (await issuer.credit(refund(), settings)).number == "FA-2026-000002"
