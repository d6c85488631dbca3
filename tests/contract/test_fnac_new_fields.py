"""Fnac: reply expectation, participants and entities on snapshots.

The answers are written by hand from the Fnac Marketplace API documentation of
``messages_query`` (MessagesQueryService.xsd, namespace
``http://www.fnac.com/schemas/mp-dialog.xsd``): a ``messages_query_response`` with
``page``/``total_paging`` and ``message`` elements (attributes ``state``,
``archived``; children ``message_id``, ``message_referer type="ORDER|OFFER"``,
``message_from type="CLIENT|CALLCENTER|SELLER"`` whose text is the sender's name,
``message_offer_title``, ``message_subject``, ``message_description``,
``created_at``, ``updated_at``, ``answer``, ``answer_at``), as the Fnac client's module
docstring records them (parley_connectors/fnac/client.py); Fnac's pages were not in
the documentation index these tests were checked against. Not from Parley's sandbox.

Not tested, because the documented answer has no such field: a marketplace id of the
buyer or the seller (``message_from`` carries a type and a display name only), a
buyer's organisation, and a "reply needed" flag. Fnac gives no reply signal, so the
expectation is derived from the last message's direction with the family's window
(fnac/family.py declares none: the default 48 h).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.normalizer import FakeStore, RecordingSink

from parley_connectors.fnac import FnacMessage, FnacPage
from parley_connectors.fnac.models import parse_xml
from parley_connectors.fnac.reading import FnacConnector
from parley_ingest.domain.connections import Connection
from parley_normalizer.handlers import Normalizer
from parley_schemas import ParticipantRole, RawThreadSnapshot

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)
NS = "http://www.fnac.com/schemas/mp-dialog.xsd"


def connector() -> FnacConnector:
    connection = Connection(
        id="c-fnac",
        store_id="s1",
        family="fnac",
        marketplace="fnac",
        base_url="https://vendeur.fnac.com/api.php",
        credentials={"partner_id": "p", "shop_id": "s", "key": "k"},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )
    # snapshot() never calls the client.
    return FnacConnector(connection, client=object())  # type: ignore[arg-type]


def page(*messages: str) -> list[FnacMessage]:
    xml = (
        f'<messages_query_response status="OK" xmlns="{NS}">'
        "<page>1</page><total_paging>1</total_paging>"
        f"<nb_total_result>{len(messages)}</nb_total_result>{''.join(messages)}"
        "</messages_query_response>"
    )
    parsed = FnacPage.parse(parse_xml(xml.encode(), "answer")).messages
    assert all(isinstance(m, FnacMessage) for m in parsed)
    return [m for m in parsed if isinstance(m, FnacMessage)]


def message(
    mid: str,
    referer: tuple[str, str],
    sender: tuple[str, str],
    at: str,
    text: str,
    *,
    offer_title: str | None = None,
    answer: tuple[str, str] | None = None,
) -> str:
    kind, value = referer
    from_type, name = sender
    extra = f"<message_offer_title>{offer_title}</message_offer_title>" if offer_title else ""
    if answer:
        extra += f"<answer>{answer[0]}</answer><answer_at>{answer[1]}</answer_at>"
    return (
        '<message state="UNREAD" archived="FALSE">'
        f"<message_id>{mid}</message_id>"
        f'<message_referer type="{kind}">{value}</message_referer>'
        f'<message_from type="{from_type}">{name}</message_from>'
        "<message_subject>order_information</message_subject>"
        f"<message_description>{text}</message_description>"
        f"<created_at>{at}</created_at><updated_at>{at}</updated_at>{extra}"
        "</message>"
    )


async def discussion_after(snapshot: RawThreadSnapshot) -> dict[str, Any]:
    store = FakeStore()
    clock = snapshot.fetched_at
    normalizer = Normalizer(store, RecordingSink(), clock=lambda: clock)
    assert (await normalizer.process([snapshot])).errors == [None]
    [doc] = store.discussions.values()
    return doc


ORDER = ("ORDER", "7F3A9C21B04D2")


def test_an_order_conversation_names_its_order() -> None:
    """Fnac Marketplace API: messages_query response — ``message_referer type="ORDER"``."""
    messages = page(
        message("m-1", ORDER, ("CLIENT", "Camille Martin"), "2026-04-02T10:00:00+02:00", "Colis ?")
    )
    snapshot = connector().snapshot("ORDER", "7F3A9C21B04D2", messages)

    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", "7F3A9C21B04D2", None)
    ]
    [buyer] = snapshot.participants
    assert (buyer.role, buyer.name) == (ParticipantRole.CUSTOMER, "Camille Martin")
    # No id is documented for the sender: none is made up.
    assert buyer.marketplace_id is None and buyer.organization is None
    assert snapshot.reply_signal is False


def test_an_offer_conversation_carries_the_offer_title_as_label() -> None:
    """Fnac Marketplace API: messages_query response — ``message_referer type="OFFER"``
    and ``message_offer_title``."""
    referer = ("OFFER", "SKU-PP-COLLECTOR")
    messages = page(
        message(
            "m-7",
            referer,
            ("CLIENT", "Louis B."),
            "2026-04-02T09:00:00+02:00",
            "Est-il dédicacé ?",
            offer_title="Le Petit Prince - Édition collector",
        )
    )
    snapshot = connector().snapshot("OFFER", "SKU-PP-COLLECTOR", messages)

    assert snapshot.thread_id == "offer:SKU-PP-COLLECTOR"
    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("offer", "SKU-PP-COLLECTOR", "Le Petit Prince - Édition collector")
    ]


async def test_reply_expected_follows_the_last_message_with_the_default_window() -> None:
    """Fnac Marketplace API: messages_query response — ``message_from`` type CLIENT asks,
    ``answer``/``answer_at`` is the seller's answer shown on the buyer's message."""
    asked = message(
        "m-1", ORDER, ("CLIENT", "Camille Martin"), "2026-04-02T10:00:00+02:00", "Colis ?"
    )
    waiting = await discussion_after(connector().snapshot("ORDER", ORDER[1], page(asked)))
    since = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
    assert (waiting["reply_expected"], waiting["reply_due_at"]) == (
        True,
        since + timedelta(hours=48),
    )

    answered = message(
        "m-1",
        ORDER,
        ("CLIENT", "Camille Martin"),
        "2026-04-02T10:00:00+02:00",
        "Colis ?",
        answer=("Expédié ce matin.", "2026-04-02T11:30:00+02:00"),
    )
    snapshot = connector().snapshot("ORDER", ORDER[1], page(answered))
    assert [m.sender.role for m in snapshot.messages] == [
        ParticipantRole.CUSTOMER,
        ParticipantRole.MERCHANT,
    ]
    done = await discussion_after(snapshot)
    assert (done["reply_expected"], done["reply_due_at"]) == (False, None)


async def test_a_fnac_customer_service_message_expects_a_reply_too() -> None:
    """Fnac Marketplace API: messages_query response — ``message_from type="CALLCENTER"``
    (Fnac's customer service) after the seller's answer asks the seller again."""
    messages = page(
        message("m-1", ORDER, ("CLIENT", "Camille"), "2026-04-02T10:00:00+02:00", "Colis ?"),
        message("m-2", ORDER, ("SELLER", "Ma Boutique"), "2026-04-02T11:00:00+02:00", "Parti."),
        message(
            "m-3", ORDER, ("CALLCENTER", "Service client Fnac"), "2026-04-03T09:00:00+02:00", "?"
        ),
    )
    snapshot = connector().snapshot("ORDER", ORDER[1], messages)
    assert [p.role for p in snapshot.participants] == [
        ParticipantRole.CUSTOMER,
        ParticipantRole.OPERATOR,
        ParticipantRole.MERCHANT,
    ]
    doc = await discussion_after(snapshot)
    since = datetime(2026, 4, 3, 7, 0, tzinfo=UTC)
    assert (doc["reply_expected"], doc["reply_due_at"]) == (True, since + timedelta(hours=48))
