"""Amazon and CDON relayed mail: framing, entities, buyer id and reply deadline, end to end.

The parsing and unframing of each relay's mail shapes is pinned in
tests/unit/test_email_relay_framing.py (its module docstring says where the shapes
come from: Amazon's relayed Buyer-Seller Messaging mails as quoted in public seller
tooling; CDON's merchant help centre, "Kommunikation med era kunder"). These tests
reuse its Amazon example and carry a relayed mail on to the raw snapshot and the
normalized discussion: what the framing and the relay address become there.

Amazon's published rule: Buyer-Seller Messaging asks sellers to respond to buyer
messages within 24 hours (email_relay/family.py). CDON publishes no reply deadline
for relayed mail: the family's default window (48 h) applies. Neither relay gives a
"reply needed" signal, an organisation of the buyer, or a label for the order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.normalizer import FakeStore, RecordingSink
from unit.test_email_relay_framing import AMAZON_EN, AMAZON_EN_TEXT, crlf, plain_mail

from parley_connectors.email_relay import parse_inbound
from parley_connectors.email_relay.reading import snapshot_of
from parley_ingest.domain.connections import Connection
from parley_normalizer.handlers import Normalizer
from parley_schemas import ParticipantRole, RawThreadSnapshot

ACTIVATED = datetime(2026, 3, 1, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 3, 9, 15, 30, tzinfo=UTC)
AMAZON_BUYER = "ann0123456789ab@marketplace.amazon.com"


def connection(marketplace: str) -> Connection:
    return Connection(
        id=f"c-{marketplace}",
        store_id="s1",
        family="email_relay",
        marketplace=marketplace,
        base_url="",
        credentials={},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )


async def discussion_after(snapshot: RawThreadSnapshot) -> dict[str, Any]:
    store = FakeStore()
    normalizer = Normalizer(store, RecordingSink(), clock=lambda: RECEIVED)
    assert (await normalizer.process([snapshot])).errors == [None]
    [doc] = store.discussions.values()
    return doc


def amazon_snapshot() -> RawThreadSnapshot:
    mail = parse_inbound(
        plain_mail(
            f"Ann - Amazon Marketplace <{AMAZON_BUYER}>",
            "Question from Amazon customer Ann",
            AMAZON_EN,
        )
    )
    return snapshot_of(connection("amazon-de"), mail, [], RECEIVED)


def test_amazon_snapshot_carries_the_order_the_asin_and_the_buyers_relay_address() -> None:
    """Amazon relayed mail (English): the "Order ID" and "ASIN"/"Item" header lines become
    entities; the buyer's relay address is the buyer's marketplace id."""
    snapshot = amazon_snapshot()

    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", "114-5652017-6650426", None),
        ("product", "B0C1234XYZ", "Wireless Headphones, Black"),
    ]
    [buyer] = snapshot.participants
    assert (buyer.role, buyer.marketplace_id, buyer.email) == (
        ParticipantRole.CUSTOMER,
        AMAZON_BUYER,
        AMAZON_BUYER,
    )
    assert buyer.organization is None
    [message] = snapshot.messages
    assert message.sender.marketplace_id == AMAZON_BUYER
    # The body is the buyer's words; the framing stays in the snapshot's payload.
    assert message.body == AMAZON_EN_TEXT
    assert "retains copies" in snapshot.payload["framing"]["after"]
    assert snapshot.reply_signal is False


async def test_amazon_discussion_preview_is_unframed_and_due_within_24_hours() -> None:
    """Amazon Buyer-Seller Messaging: respond within 24 hours (email_relay/family.py)."""
    snapshot = amazon_snapshot()
    doc = await discussion_after(snapshot)

    assert doc["last_message_preview"].startswith("Hello, the left earpiece is silent")
    assert "Order ID" not in doc["last_message_preview"]
    assert "------------- Message" not in doc["last_message_preview"]
    sent_at = snapshot.messages[0].sent_at
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, sent_at + timedelta(hours=24))


CDON_MAIL = crlf(
    "From: CDON Kundservice <reply+77aa@errands.cdon.se>\n"
    "To: shop-1-cdon-se-a1b2c3d4e5f6@inbound.parley.example\n"
    "Subject: Leverans - Åsa via CDON - Ordernummer: 42277358\n"
    "Date: Tue, 03 Mar 2026 10:00:00 +0100\n"
    "Message-ID: <errand-7002@errands.cdon.se>\n"
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n\n"
    "Hej,\n\nKund har kontaktat oss angående denna beställning men det har hamnat hos oss\n"
    "istället för hos er som säljer produkten. Vi klistrar in meddelandet här.\n\n"
    "Kunds meddelande:\nHej! Var är mitt paket?\n/Åsa\n"
)


async def test_cdon_snapshot_and_discussion_unframed_with_the_default_window() -> None:
    """CDON help centre, "Kommunikation med era kunder": customer service's preamble ending
    in "Kunds meddelande:" and the order number in the subject."""
    mail = parse_inbound(CDON_MAIL)
    snapshot = snapshot_of(connection("cdon-se"), mail, [], RECEIVED)

    # CDON's mail names the order only: no product id or label is given.
    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [("order", "42277358", None)]
    assert snapshot.participants[0].marketplace_id == "reply+77aa@errands.cdon.se"
    assert snapshot.messages[0].body == "Hej! Var är mitt paket?\n/Åsa"

    doc = await discussion_after(snapshot)
    assert doc["last_message_preview"] == "Hej! Var är mitt paket? /Åsa"
    sent_at = snapshot.messages[0].sent_at
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, sent_at + timedelta(hours=48))
