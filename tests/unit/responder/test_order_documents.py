"""Issue 14: a reply's invoice is also filed on the order where the family has a
document channel (Mirakl OR74), behind the family's capability, at most once.

The rule: only a family with ``order_documents`` (Mirakl), and only for a command that
names its invoice with an order id. The life cycle: after the message is sent, once
per command; a refusal is reported with the delivery and never sends the message
again; a crash mid-upload is resolved by asking the order (OR72) first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.responder import FakeDeliveries

from parley_connectors.errors import BadRequest, MarketplaceUnavailable
from parley_connectors.files import OutgoingFile
from parley_connectors.registry import families
from parley_connectors.reply_rules import (
    order_document_due,
    order_document_type,
)
from parley_responder.domain.attachments import ReplyFile
from parley_responder.domain.reconcile import ShopReply
from parley_responder.handlers import Responder, RetryPolicy
from parley_responder.ports import (
    Destination,
    OrderDocumentRecord,
    OrderDocuments,
    PreparedReply,
)
from parley_schemas import (
    DeliveryResult,
    DeliveryState,
    Envelope,
    InvoiceDocument,
    InvoiceKind,
    OrderDocumentState,
    ParticipantRole,
    ReplyCommand,
)

NOW = datetime(2026, 5, 30, 12, 0, tzinfo=UTC)
INVOICE_FILE = ReplyFile("inv-1", "FA-2026-0001.pdf", "application/pdf", 12)
ORDER = "ORDER-0001-A"


def command(
    *, order_id: str | None = ORDER, kind: InvoiceKind = InvoiceKind.INVOICE, invoice: bool = True
) -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-invoice01",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body="Voici votre facture.",
        recipients=[ParticipantRole.CUSTOMER],
        attachment_file_ids=["inv-1"],
        requested_by="test",
        requested_at=NOW,
        invoice=InvoiceDocument(
            file_id="inv-1", number="FA-2026-0001", order_id=order_id, kind=kind
        )
        if invoice
        else None,
    )


# --- the capability rule ------------------------------------------------------------


def test_only_mirakl_has_the_order_documents_capability() -> None:
    assert {f.name for f in families().values() if f.rules and f.rules.order_documents} == {
        "mirakl"
    }


@pytest.mark.parametrize("family", sorted(families()))
def test_upload_is_due_only_for_a_family_with_the_capability(family: str) -> None:
    assert order_document_due(command(), family) is (family == "mirakl")


def test_upload_needs_an_invoice_with_an_order_id() -> None:
    assert not order_document_due(command(invoice=False), "mirakl")
    assert not order_document_due(command(order_id=None), "mirakl")
    assert not order_document_due(command(order_id=""), "mirakl")
    assert not order_document_due(command(), "no-such-family")


def test_mirakl_files_an_invoice_as_customer_invoice_and_has_no_credit_note_code() -> None:
    assert order_document_type("mirakl", InvoiceKind.INVOICE) == "CUSTOMER_INVOICE"
    assert order_document_type("mirakl", InvoiceKind.CREDIT_NOTE) is None
    assert order_document_type("fnac", InvoiceKind.INVOICE) is None


# --- the delivery life cycle --------------------------------------------------------


class Marketplace:
    """A Mirakl-like family: messages (M12) and order documents (OR74/OR72)."""

    def __init__(self, *uploads: Exception | None, listed: Sequence[str] = ()) -> None:
        self.sent: list[str] = []
        self.uploads = list(uploads)
        self.filed: list[tuple[str, str, str]] = []
        self.on_order = list(listed)
        self.checked = 0

    async def send(
        self,
        destination: Destination,
        thread_id: str,
        body: str,
        to: list[ParticipantRole],
        attachments: Sequence[OutgoingFile] = (),
        *,
        reference: str = "",
    ) -> str | None:
        self.sent.append(body)
        return f"m-{len(self.sent)}"

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        return []

    async def upload_order_document(
        self, destination: Destination, order_id: str, file: OutgoingFile, type_code: str
    ) -> None:
        outcome = self.uploads.pop(0) if self.uploads else None
        if outcome is not None:
            raise outcome
        self.filed.append((order_id, file.name, type_code))
        self.on_order.append(file.name)

    async def has_order_document(
        self, destination: Destination, order_id: str, file_name: str
    ) -> bool:
        self.checked += 1
        return file_name in self.on_order


class Preparer:
    """Plans the invoice as a native file and loads its bytes."""

    async def prepare(self, command: ReplyCommand, family: str, *, retry: int) -> PreparedReply:
        return PreparedReply(body=command.body, native=(INVOICE_FILE,), retry=retry)

    async def load(self, files: Sequence[ReplyFile]) -> list[OutgoingFile]:
        return [OutgoingFile(f.name, b"%PDF-1.7", f.content_type) for f in files]


class Results:
    def __init__(self) -> None:
        self.envelopes: list[Envelope[Any]] = []

    async def emit(self, envelope: Envelope[Any]) -> None:
        self.envelopes.append(envelope)

    @property
    def last(self) -> DeliveryResult:
        result: DeliveryResult = self.envelopes[-1].data
        return result


class Destinations:
    def __init__(self, family: str) -> None:
        self.family = family

    async def find(self, store_id: str, marketplace: str) -> Destination | None:
        return Destination(self.family, "http://x", {"api_key": "k"}, {})


def responder(
    market: Marketplace, deliveries: FakeDeliveries, family: str = "mirakl"
) -> tuple[Responder, Results]:
    results = Results()

    async def sleep(_: float) -> None:
        return None

    r = Responder(
        deliveries,
        Destinations(family),
        {family: market},
        results,
        RetryPolicy(max_attempts=2),
        sleep=sleep,
        clock=lambda: NOW,
        preparer=Preparer(),  # type: ignore[arg-type]
    )
    return r, results


def test_the_mirakl_like_fake_offers_the_document_channel() -> None:
    assert isinstance(Marketplace(), OrderDocuments)


async def test_the_invoice_is_filed_on_the_order_once_with_the_reply() -> None:
    market, deliveries = Marketplace(), FakeDeliveries()
    r, results = responder(market, deliveries)
    await r.on_reply(command())
    await r.on_reply(command())  # the command redelivered
    assert market.sent == ["Voici votre facture."]
    assert market.filed == [(ORDER, "FA-2026-0001.pdf", "CUSTOMER_INVOICE")]
    assert results.last.state is DeliveryState.SENT
    outcome = results.last.order_document
    assert outcome is not None and outcome.state is OrderDocumentState.UPLOADED
    assert (outcome.order_id, outcome.file_id) == (ORDER, "inv-1")


async def test_a_refused_upload_is_reported_and_sends_nothing_twice() -> None:
    market = Marketplace(BadRequest("Mirakl did not file it: Unknown document type"))
    deliveries = FakeDeliveries()
    r, results = responder(market, deliveries)
    await r.on_reply(command())
    await r.on_reply(command())
    assert market.sent == ["Voici votre facture."], "the message went once"
    assert market.filed == [], "the refused upload is not tried again"
    assert results.last.state is DeliveryState.SENT
    outcome = results.last.order_document
    assert outcome is not None and outcome.state is OrderDocumentState.FAILED
    assert "Unknown document type" in (outcome.detail or "")


async def test_an_upload_lost_in_a_timeout_is_failed_and_says_it_may_be_there() -> None:
    market = Marketplace(MarketplaceUnavailable("timeout", maybe_delivered=True))
    r, results = responder(market, FakeDeliveries())
    await r.on_reply(command())
    outcome = results.last.order_document
    assert outcome is not None and outcome.state is OrderDocumentState.FAILED
    assert "may have been filed" in (outcome.detail or "")
    assert market.sent == ["Voici votre facture."]


async def test_after_a_crash_mid_upload_the_order_is_asked_before_uploading() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.save_prepared(
        "cmd-invoice01", PreparedReply("Voici votre facture.", (INVOICE_FILE,))
    )
    await deliveries.mark_sent("cmd-invoice01", "m-1")
    uploading = OrderDocumentRecord("uploading", ORDER, "inv-1", INVOICE_FILE.name)
    await deliveries.mark_order_document("cmd-invoice01", uploading)

    landed = Marketplace(listed=[INVOICE_FILE.name])  # the upload had reached Mirakl
    r, results = responder(landed, deliveries)
    await r.on_reply(command())
    assert landed.checked == 1 and landed.filed == [] and landed.sent == []
    outcome = results.last.order_document
    assert outcome is not None and outcome.state is OrderDocumentState.UPLOADED


async def test_after_a_crash_before_the_upload_reached_mirakl_it_is_uploaded() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.save_prepared(
        "cmd-invoice01", PreparedReply("Voici votre facture.", (INVOICE_FILE,))
    )
    await deliveries.mark_sent("cmd-invoice01", "m-1")  # crash before filing
    market = Marketplace()
    r, results = responder(market, deliveries)
    await r.on_reply(command())
    assert market.sent == [], "the message is not sent again"
    assert market.filed == [(ORDER, "FA-2026-0001.pdf", "CUSTOMER_INVOICE")]
    assert results.last.order_document is not None


async def test_no_upload_without_the_capability_or_without_an_order() -> None:
    fnac = Marketplace()
    r, results = responder(fnac, FakeDeliveries(), family="fnac")
    await r.on_reply(command())
    assert fnac.filed == [] and results.last.order_document is None

    mirakl = Marketplace()
    r, results = responder(mirakl, FakeDeliveries())
    await r.on_reply(command(order_id=None))
    assert mirakl.filed == [] and results.last.order_document is None
    assert results.last.state is DeliveryState.SENT


async def test_a_credit_note_is_skipped_for_want_of_a_documented_type_code() -> None:
    market = Marketplace()
    r, results = responder(market, FakeDeliveries())
    await r.on_reply(command(kind=InvoiceKind.CREDIT_NOTE))
    assert market.filed == []
    outcome = results.last.order_document
    assert outcome is not None and outcome.state is OrderDocumentState.SKIPPED
    assert "credit_note" in (outcome.detail or "")
