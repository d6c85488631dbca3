"""What /metrics reads from the real MongoDB-compatible server on scrape: connections
needing attention per family (ingest) and the delivery queue's size and oldest age
(responder), through the same functions the services register."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.app import count_needing_attention
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_platform.crypto import CredentialCipher
from parley_platform.metrics import OUTBOX_OLDEST_AGE, OUTBOX_QUEUED, REGISTRY, export
from parley_responder.adapters.mongo_deliveries import MongoDeliveryQueue
from parley_responder.bootstrap import measure_outbox
from parley_schemas import ParticipantRole, ReplyCommand

pytestmark = pytest.mark.integration

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def connection(cid: str, family: str, health: ConnectionHealth) -> Connection:
    return Connection(
        id=cid,
        store_id=f"s-{cid}",
        family=family,
        marketplace=f"m-{cid}",
        base_url="http://127.0.0.1:1/",
        credentials={"api_key": "k"},
        activated_at=NOW,
        cursor=NOW,
        health=health,
    )


async def test_connections_needing_attention_are_counted_per_family(
    mongo_db: AsyncDatabase[Any],
) -> None:
    repo = MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))
    attention = ConnectionHealth.NEEDS_ATTENTION
    for cid, family, health in [
        ("a", "mirakl", attention),
        ("b", "mirakl", attention),
        ("c", "mirakl", ConnectionHealth.OK),
        ("d", "fnac", ConnectionHealth.OK),
        ("e", "allegro", attention),
    ]:
        await repo.add(connection(cid, family, health))
    assert await repo.needing_attention() == {"mirakl": 2, "fnac": 0, "allegro": 1}

    await count_needing_attention(repo)
    gauge = "parley_connections_needing_attention"
    assert REGISTRY.get_sample_value(gauge, {"family": "mirakl"}) == 2
    assert REGISTRY.get_sample_value(gauge, {"family": "fnac"}) == 0


def reply(n: int) -> ReplyCommand:
    return ReplyCommand(
        command_id=uuid.uuid4().hex,
        discussion_id=f"d-{n}",
        store_id="s1",
        marketplace="carrefour",
        thread_id=f"t-{n}",
        body="Bonjour",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
    )


async def test_the_outbox_reports_its_size_and_the_age_of_its_oldest_reply(
    mongo_db: AsyncDatabase[Any],
) -> None:
    export(OUTBOX_OLDEST_AGE, OUTBOX_QUEUED)
    queue = MongoDeliveryQueue(mongo_db)
    await measure_outbox(queue)
    assert REGISTRY.get_sample_value("parley_outbox_queued") == 0
    assert REGISTRY.get_sample_value("parley_outbox_oldest_age_seconds") == 0

    first, second = reply(1), reply(2)
    await queue.add(first)
    await asyncio.sleep(0.5)
    await queue.add(second)
    await measure_outbox(queue)
    assert REGISTRY.get_sample_value("parley_outbox_queued") == 2
    age = REGISTRY.get_sample_value("parley_outbox_oldest_age_seconds")
    assert age is not None and 0.5 <= age < 30, "the oldest reply's age, not the newest's"

    await queue.remove(first)
    await queue.remove(second)
    await measure_outbox(queue)
    assert REGISTRY.get_sample_value("parley_outbox_queued") == 0
    assert REGISTRY.get_sample_value("parley_outbox_oldest_age_seconds") == 0
