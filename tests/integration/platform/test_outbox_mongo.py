"""The outbox's store on FerretDB: by ``_id`` except the relay's one scan."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.query_log import monitored

from parley_platform.outbox import MongoOutbox
from parley_schemas import (
    INGEST_COMMANDS,
    RESYNC_REQUESTED,
    Envelope,
    ResyncRequest,
    utcnow,
)

pytestmark = pytest.mark.integration


def resync(n: int) -> Envelope[ResyncRequest]:
    return Envelope[ResyncRequest](
        source="/test",
        type=RESYNC_REQUESTED.name,
        subject="s1:m1:*",
        data=ResyncRequest(
            request_id=f"request-{n:04d}",
            store_id="s1",
            marketplace="m1",
            requested_by="test",
            requested_at=utcnow(),
        ),
    ).with_extensions(tenant="t1")


async def test_records_round_trip_once_each_and_leave_by_id(
    mongo_uri: str, mongo_db: AsyncDatabase[Any]
) -> None:
    async with monitored(mongo_uri, mongo_db.name) as (db, log):
        outbox = MongoOutbox(db, "gateway")
        first, second = resync(1), resync(2)
        log.recording = True
        await outbox.record(INGEST_COMMANDS, [first])
        await outbox.record(INGEST_COMMANDS, [first, second])  # first again: kept as is
        later = utcnow() + timedelta(seconds=1)
        pending = await outbox.pending(10, later)
        assert [r.id for r in pending] == [first.id, second.id]
        assert pending[0].topic == INGEST_COMMANDS
        assert pending[0].envelope.id == first.id
        assert pending[0].envelope.extensions == {"tenant": "t1"}
        assert ResyncRequest.model_validate(pending[1].envelope.data) == second.data
        assert await outbox.pending(10, utcnow() - timedelta(minutes=1)) == []
        assert (await outbox.backlog())[0] == 2
        await outbox.remove(first.id)
        assert [r.id for r in await outbox.pending(10, later)] == [second.id]
        log.recording = False
    assert all(q.by_id() or q.filter == {} for q in log.queries), log.queries
    assert await mongo_db["outbox_gateway"].count_documents({}) == 1


async def test_records_written_together_are_relayed_in_the_order_given(
    mongo_db: AsyncDatabase[Any],
) -> None:
    outbox = MongoOutbox(mongo_db, f"order{uuid.uuid4().hex[:6]}")
    # Ids that sort against the order given: the relay must not fall back on them.
    batch = [resync(n).model_copy(update={"id": f"{9 - n:032x}"}) for n in range(5)]
    await outbox.record(INGEST_COMMANDS, batch)
    pending = await outbox.pending(10, utcnow() + timedelta(seconds=1))
    assert [r.id for r in pending] == [e.id for e in batch]
    assert [r.envelope.data["request_id"] for r in pending] == [
        f"request-{n:04d}" for n in range(5)
    ]
