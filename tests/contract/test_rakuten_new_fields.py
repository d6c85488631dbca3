"""Rakuten France: reply expectation, participants and entities on snapshots.

The answers are written by hand after the Rakuten France (ex-PriceMinister) sales web
services documentation of ``getiteminfos`` (``getiteminfosresult`` → ``response`` with
``sellerid`` and one ``item``: ``itemid``, ``purchaseid``, ``date``, ``headline``,
``itemstate``, ``itemstatelabel``; buyer-seller ``message`` elements with ``sender``,
``recipient``, ``senddate`` (Paris time, ``dd/mm/yyyy-HH:MM``), ``content``,
``status``; Rakuten's customer-service ``mail`` elements with ``mailid``, ``sender``,
``object``, ``senddate``, ``content``), as the Rakuten models' docstrings record them
(parley_connectors/rakuten/models.py); Rakuten's pages were not in the documentation
index these tests were checked against. Not from Parley's sandbox.

Not tested, because the documented answer has no such field: a product or advert id
of the item (the thread's only entity is its order, labelled with the item's
``headline``), a buyer's organisation, and a "reply needed" flag. Rakuten gives no
reply signal, so the expectation is derived from the last message's direction with
the family's window (rakuten/family.py declares none: the default 48 h).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.normalizer import FakeStore, RecordingSink

from parley_connectors.rakuten import RakutenItem
from parley_connectors.rakuten.models import parse_xml
from parley_connectors.rakuten.reading import RakutenConnector
from parley_ingest.domain.connections import Connection
from parley_normalizer.handlers import Normalizer
from parley_schemas import ParticipantRole, RawThreadSnapshot

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)
LOGIN = "boutique-du-the"


@dataclass
class StubClient:
    """snapshot() only asks the client for the seller's login."""

    login: str = LOGIN


def connector() -> RakutenConnector:
    connection = Connection(
        id="c-rakuten",
        store_id="s1",
        family="rakuten",
        marketplace="rakuten-fr",
        base_url="https://ws.fr.shopping.rakuten.com",
        credentials={"login": LOGIN, "token": "t"},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )
    return RakutenConnector(connection, client=StubClient())  # type: ignore[arg-type]


def buyer_message(sent: str, content: str, sender: str = "jeanne.leroy") -> str:
    recipient = LOGIN if sender != LOGIN else "jeanne.leroy"
    return (
        f"<message><sender>{sender}</sender><recipient>{recipient}</recipient>"
        f"<senddate>{sent}</senddate><content>{content}</content>"
        "<status>Non lu</status></message>"
    )


def item(*elements: str) -> RakutenItem:
    xml = (
        "<getiteminfosresult><request><version>2017-08-07</version></request>"
        "<response><sellerid>9876543</sellerid><item>"
        "<itemid>381029712</itemid><purchaseid>271664881</purchaseid>"
        "<date>02/04/2026-10:00</date><headline>Théière en fonte</headline>"
        "<itemstate>ACCEPTED</itemstate><itemstatelabel>Vente acceptée</itemstatelabel>"
        # Rakuten lists newest first.
        f"{''.join(reversed(elements))}"
        "</item></response></getiteminfosresult>"
    )
    return RakutenItem.parse(parse_xml(xml.encode(), "answer"), "381029712")


async def discussion_after(snapshot: RawThreadSnapshot) -> dict[str, Any]:
    store = FakeStore()
    clock = snapshot.fetched_at
    normalizer = Normalizer(store, RecordingSink(), clock=lambda: clock)
    assert (await normalizer.process([snapshot])).errors == [None]
    [doc] = store.discussions.values()
    return doc


def test_the_order_entity_and_participants_ids() -> None:
    """Rakuten WebServices: GetItemInfos — ``purchaseid``, ``headline``, ``sellerid`` and a
    ``message``'s ``sender``."""
    snapshot = connector().snapshot(
        item(
            buyer_message("02/04/2026-10:15", "La théière est fêlée."),
            buyer_message("02/04/2026-11:00", "Je vous en envoie une autre.", sender=LOGIN),
        )
    )

    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", "271664881", "Théière en fonte")
    ]
    by_role = {p.role: p for p in snapshot.participants}
    assert by_role[ParticipantRole.CUSTOMER].marketplace_id == "jeanne.leroy"
    assert by_role[ParticipantRole.MERCHANT].marketplace_id == "9876543"
    assert all(p.organization is None for p in snapshot.participants)
    buyer_says, shop_says = snapshot.messages
    assert buyer_says.sender.marketplace_id == by_role[ParticipantRole.CUSTOMER].marketplace_id
    # The shop's own message names the shop as its participant does.
    assert shop_says.sender.role is ParticipantRole.MERCHANT
    assert shop_says.sender.marketplace_id == by_role[ParticipantRole.MERCHANT].marketplace_id
    assert snapshot.reply_signal is False


async def test_reply_expected_follows_the_last_message_with_the_default_window() -> None:
    """Rakuten WebServices: GetItemInfos — a ``message`` whose ``sender`` is the buyer asks;
    one sent by the seller's login (contactUserAboutItem) answers."""
    asked = buyer_message("02/04/2026-10:15", "La théière est fêlée.")
    doc = await discussion_after(connector().snapshot(item(asked)))
    since = datetime(2026, 4, 2, 8, 15, tzinfo=UTC)  # 10:15 in Paris (CEST)
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, since + timedelta(hours=48))

    answer = buyer_message("02/04/2026-11:00", "Je vous en envoie une autre.", sender=LOGIN)
    doc = await discussion_after(connector().snapshot(item(asked, answer)))
    assert (doc["reply_expected"], doc["reply_due_at"]) == (False, None)


async def test_a_rakuten_mail_expects_a_reply_from_the_operator_side() -> None:
    """Rakuten WebServices: GetItemInfos — a ``mail`` (``mailid``, ``object``) is Rakuten
    France's customer service writing to the seller."""
    mail = (
        "<mail><mailid>55012</mailid><sender>Rakuten France</sender>"
        "<object>Réclamation sur votre vente</object><senddate>03/04/2026-09:00</senddate>"
        "<content>Une réclamation a été ouverte.</content></mail>"
    )
    snapshot = connector().snapshot(
        item(
            buyer_message("02/04/2026-10:15", "La théière est fêlée."),
            buyer_message("02/04/2026-11:00", "Je vous en envoie une autre.", sender=LOGIN),
            mail,
        )
    )
    assert snapshot.messages[-1].sender.role is ParticipantRole.OPERATOR
    doc = await discussion_after(snapshot)
    since = datetime(2026, 4, 3, 7, 0, tzinfo=UTC)
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, since + timedelta(hours=48))
