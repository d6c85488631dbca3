"""Mirakl: the M11 reply signal and participants' ids, carried on to the discussion.

The snapshot side is pinned in tests/unit/ingest/test_mirakl_reply_signal.py (M11
``metadata.shop_reply_needed_since`` → ``reply_signal``/``reply_expected_since``) and
test_mirakl_organizations.py (M10 ``customer_organization``, participants' ``id``,
``entities`` with ``label``). These tests reuse their hand-written payloads (Mirakl
seller API, developer.mirakl.com: "M11 - List threads" and "M10 - Retrieve a
thread", response 200 fields) and follow them into the normalized discussion, with
the family's reply window (mirakl/family.py declares none: the default 48 h).

Not tested, because the reference shows no such field: an id for the OPERATOR
participant ("When type equals OPERATOR, no id will be returned") and a reply
deadline of Mirakl's own (M11 says since when a reply is needed, not until when).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.normalizer import FakeStore, RecordingSink
from unit.ingest.test_mirakl_organizations import thread as b2b_thread
from unit.ingest.test_mirakl_reply_signal import thread as m11_thread

from parley_connectors.mirakl import MiraklClient, MiraklThread
from parley_connectors.mirakl.reading import MiraklConnector
from parley_ingest.domain.connections import Connection
from parley_normalizer.handlers import Normalizer
from parley_schemas import ParticipantRole, RawThreadSnapshot

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 3, 12, 0, tzinfo=UTC)


async def snapshot_of(payload: dict[str, Any]) -> RawThreadSnapshot:
    connection = Connection(
        id="c1",
        store_id="s1",
        family="mirakl",
        marketplace="carrefour",
        base_url="https://carrefour-prod.mirakl.net",
        credentials={"api_key": "k"},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )
    # snapshot() never calls the client.
    client = MiraklClient(connection.base_url, "k")
    try:
        return MiraklConnector(connection, client).snapshot(MiraklThread.parse(payload))
    finally:
        await client.aclose()


async def discussion_after(snapshot: RawThreadSnapshot) -> dict[str, Any]:
    store = FakeStore()
    normalizer = Normalizer(store, RecordingSink(), clock=lambda: NOW)
    assert (await normalizer.process([snapshot])).errors == [None]
    [doc] = store.discussions.values()
    return doc


def due(doc: dict[str, Any]) -> tuple[bool, datetime | None, datetime | None]:
    return doc["reply_expected"], doc["reply_expected_since"], doc["reply_due_at"]


async def test_shop_reply_needed_since_sets_the_discussions_deadline() -> None:
    """Mirakl M11 — List threads, response: ``metadata.shop_reply_needed_since``."""
    since = datetime(2026, 4, 3, 9, 12, tzinfo=UTC)
    doc = await discussion_after(
        await snapshot_of(
            m11_thread(
                {
                    "last_message_date": "2026-04-03T09:12:00Z",
                    "last_sender": {"type": "CUSTOMER", "display_name": "Jeanne D."},
                    "shop_reply_needed_since": "2026-04-03T09:12:00Z",
                    "total_count": 1,
                }
            )
        )
    )
    assert due(doc) == (True, since, since + timedelta(hours=48))


async def test_metadata_without_the_date_means_no_reply_is_expected() -> None:
    """Mirakl M11 — List threads, response: ``metadata`` present, no
    ``shop_reply_needed_since``: Mirakl says no reply is needed although the buyer wrote
    last, and its word wins over the message direction."""
    doc = await discussion_after(await snapshot_of(m11_thread({"total_count": 1})))
    assert due(doc) == (False, None, None)


async def test_without_metadata_the_last_buyer_message_sets_the_deadline() -> None:
    """Mirakl M10 — Retrieve a thread (no ``metadata``): derived from the messages."""
    doc = await discussion_after(await snapshot_of(m11_thread(None)))
    since = datetime(2026, 4, 3, 9, 12, tzinfo=UTC)
    assert due(doc) == (True, since, since + timedelta(hours=48))


async def test_every_party_keeps_the_id_mirakl_gives_it() -> None:
    """Mirakl M10 — Retrieve a thread: ``authorized_participants.id`` (none for OPERATOR)
    and a message's ``from.organization_details.id``."""
    snapshot = await snapshot_of(b2b_thread({"id": "ORG-88", "display_name": "Girard & Fils SAS"}))

    by_role = {p.role: p for p in snapshot.participants}
    assert by_role[ParticipantRole.MERCHANT].marketplace_id == "2001"
    assert by_role[ParticipantRole.OPERATOR].marketplace_id is None
    buyer_message, shop_message = snapshot.messages
    assert shop_message.sender.marketplace_id == by_role[ParticipantRole.MERCHANT].marketplace_id
    assert buyer_message.sender.marketplace_id == by_role[ParticipantRole.CUSTOMER].marketplace_id
