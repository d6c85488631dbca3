"""Allegro: reply expectation, participants' marketplace ids and entities on snapshots.

Payloads are written by hand from Allegro's public REST API reference
(developer.allegro.pl), not from Parley's sandbox:

- Message Center — "GET /messaging/threads" (thread: ``id``, ``read``,
  ``lastMessageDateTime``, ``interlocutor.login``) and "GET
  /messaging/threads/{threadId}/messages" (message: ``id``, ``status``, ``type``,
  ``createdAt``, ``thread.id``, ``author.login``/``author.isInterlocutor``, ``text``,
  ``subject``, ``relatesTo.offer.id``/``relatesTo.order.id``, ``attachments``);
- Post-purchase issues — "GET /sale/issues/{issueId}" (``id``, ``type``,
  ``referenceNumber``, ``openedDate``, ``buyer.id``/``buyer.login``,
  ``checkoutForm.id``, ``offer.id``, ``product.id``, ``chat.lastMessage``) and "GET
  /sale/issues/{issueId}/chat" (chat message: ``id``, ``text``, ``author.login``/
  ``author.role``, ``createdAt``).

Not tested, because the reference shows no such field: a label for
``relatesTo.offer``/``relatesTo.order`` (ids only), an organisation of the buyer, and
a "reply needed" flag of the Message Center. Issues carry ``chat.lastMessage.status``
(e.g. BUYER_REPLIED) and ``currentState.statusDueDate``; Parley does not read them as
a reply signal (the family has none), so the expectation is derived from the last
message's direction with the family's 24 h window (allegro/family.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.normalizer import FakeStore, RecordingSink

from parley_connectors.allegro import AllegroIssue, AllegroMessage, AllegroThread, IssueMessage
from parley_connectors.allegro.reading import AllegroConnector
from parley_ingest.domain.connections import Connection
from parley_normalizer.handlers import Normalizer
from parley_schemas import ParticipantRole, RawThreadSnapshot

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)
THREAD_ID = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
ORDER_ID = "29738e61-7f6a-11e8-ac45-09db60ede9d6"
OFFER_ID = "7763021341"


class StubClient:
    """Answers the two calls the snapshot makes with the documented payloads."""

    def __init__(
        self, messages: list[dict[str, Any]] | None = None, chat: list[dict[str, Any]] | None = None
    ) -> None:
        self._messages = messages or []
        self._chat = chat or []

    async def messages(self, thread_id: str) -> tuple[list[AllegroMessage], list[dict[str, Any]]]:
        return [AllegroMessage.model_validate(m) for m in self._messages], self._messages

    async def chat(self, issue_id: str) -> tuple[list[IssueMessage], list[dict[str, Any]]]:
        return [IssueMessage.model_validate(m) for m in self._chat], self._chat


def connector(client: StubClient) -> AllegroConnector:
    connection = Connection(
        id="c-allegro",
        store_id="s1",
        family="allegro",
        marketplace="allegro-pl",
        base_url="https://api.allegro.pl",
        credentials={"client_id": "i", "client_secret": "s", "refresh_token": "r"},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )
    return AllegroConnector(connection, client=client)  # type: ignore[arg-type]


# Message Center: "GET /messaging/threads" item, then its messages, oldest first.
THREAD = {
    "id": THREAD_ID,
    "read": False,
    "lastMessageDateTime": "2026-04-02T10:05:00.000Z",
    "interlocutor": {"login": "client:44300444", "avatarUrl": None},
}


def mc_message(mid: str, at: str, *, buyer: bool, text: str) -> dict[str, Any]:
    return {
        "id": mid,
        "status": "DELIVERED",
        "type": "MESSAGE_CENTER",
        "createdAt": at,
        "thread": {"id": THREAD_ID},
        "author": {"login": "client:44300444" if buyer else "Sklep-Foto", "isInterlocutor": buyer},
        "text": text,
        "subject": "Pytanie o zamówienie" if buyer else None,
        "relatesTo": {"offer": {"id": OFFER_ID}, "order": {"id": ORDER_ID}},
        "hasAdditionalAttachments": False,
        "attachments": [],
    }


ISSUE = {
    "id": "e1b0c2d3-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "type": "DISPUTE",
    "referenceNumber": "D-2026-0042",
    "openedDate": "2026-04-02T08:00:00.000Z",
    "subject": "Produkt uszkodzony",
    "buyer": {"id": "44300444", "login": "client:44300444"},
    "checkoutForm": {"id": ORDER_ID, "createdAt": "2026-03-28T12:00:00.000Z"},
    "currentState": {"status": "DISPUTE_ONGOING"},
    "chat": {"lastMessage": {"status": "BUYER_REPLIED", "createdAt": "2026-04-02T08:00:00.000Z"}},
    "offer": {"id": OFFER_ID},
    "product": {"id": "c9f1e2d3-0000-4a4a-9b9b-123456789abc"},
}
ISSUE_CHAT = [
    {
        "id": "chat-1",
        "text": "Paczka przyszła uszkodzona.",
        "attachments": [],
        "author": {"login": "client:44300444", "role": "BUYER"},
        "createdAt": "2026-04-02T08:00:00.000Z",
    }
]


async def discussion_after(snapshot: RawThreadSnapshot) -> dict[str, Any]:
    store = FakeStore()
    clock = snapshot.fetched_at
    normalizer = Normalizer(store, RecordingSink(), clock=lambda: clock)
    assert (await normalizer.process([snapshot])).errors == [None]
    [doc] = store.discussions.values()
    return doc


async def test_message_center_entities_and_participant_ids() -> None:
    """Allegro REST API: GET /messaging/threads/{threadId}/messages — ``relatesTo``."""
    messages = [
        mc_message("m-1", "2026-04-02T10:00:00.000Z", buyer=True, text="Kiedy wysyłka?"),
    ]
    snapshot = await connector(StubClient(messages))._thread_snapshot(
        AllegroThread.model_validate(THREAD)
    )
    assert isinstance(snapshot, RawThreadSnapshot)

    # The reference gives ids only for the order and the offer: no labels.
    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", ORDER_ID, None),
        ("offer", OFFER_ID, None),
    ]
    [customer] = snapshot.participants
    assert (customer.role, customer.marketplace_id) == (
        ParticipantRole.CUSTOMER,
        "client:44300444",
    )
    assert snapshot.messages[0].sender.marketplace_id == "client:44300444"
    assert customer.organization is None
    assert snapshot.reply_signal is False


async def test_message_center_reply_expected_follows_the_last_message() -> None:
    """Allegro REST API: GET /messaging/threads/{threadId}/messages — ``author.isInterlocutor``
    tells the buyer from the seller; the window is the family's 24 h."""
    asked = mc_message("m-1", "2026-04-02T10:00:00.000Z", buyer=True, text="Kiedy wysyłka?")
    snapshot = await connector(StubClient([asked]))._thread_snapshot(
        AllegroThread.model_validate(THREAD)
    )
    assert isinstance(snapshot, RawThreadSnapshot)
    doc = await discussion_after(snapshot)
    since = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, since + timedelta(hours=24))

    answered = mc_message("m-2", "2026-04-02T10:05:00.000Z", buyer=False, text="Dziś.")
    snapshot = await connector(StubClient([asked, answered]))._thread_snapshot(
        AllegroThread.model_validate(THREAD)
    )
    assert isinstance(snapshot, RawThreadSnapshot)
    merchant = [p for p in snapshot.participants if p.role is ParticipantRole.MERCHANT]
    assert [p.marketplace_id for p in merchant] == ["Sklep-Foto"]
    doc = await discussion_after(snapshot)
    assert (doc["reply_expected"], doc["reply_due_at"]) == (False, None)


async def test_issue_entities_buyer_id_and_reply_expected() -> None:
    """Allegro REST API: GET /sale/issues/{issueId} (``buyer``, ``checkoutForm``,
    ``offer``, ``product``) and GET /sale/issues/{issueId}/chat (``author.role``)."""
    snapshot = await connector(StubClient(chat=ISSUE_CHAT))._issue_snapshot(
        AllegroIssue.model_validate(ISSUE)
    )
    assert isinstance(snapshot, RawThreadSnapshot)

    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", ORDER_ID, None),
        ("offer", OFFER_ID, None),
        ("product", "c9f1e2d3-0000-4a4a-9b9b-123456789abc", None),
    ]
    [customer] = snapshot.participants
    assert customer.marketplace_id == "44300444"  # buyer.id, the login being a display name
    assert customer.name == "client:44300444"
    # The buyer's chat messages name the same buyer as the thread's participant.
    assert snapshot.messages[0].sender.role is ParticipantRole.CUSTOMER
    assert snapshot.messages[0].sender.marketplace_id == customer.marketplace_id

    doc = await discussion_after(snapshot)
    since = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, since + timedelta(hours=24))
