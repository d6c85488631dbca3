"""Manual resync through ingest.commands.v1, handled by ingest's own consumer loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, session_topic_prefix
from support.waiting import eventually

from parley_connectors.mirakl import MiraklClient
from parley_connectors.mirakl.reading import MiraklConnector
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection
from parley_ingest.resync import ResyncHandler
from parley_ingest.sync import SyncService
from parley_platform.consumer import run_consumer
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app
from parley_schemas import (
    INGEST_COMMANDS,
    MARKETPLACE_RAW,
    RESYNC_REQUESTED,
    Envelope,
    ResyncRequest,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seed=False)), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-resync", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


async def test_resync_requests_are_consumed_and_carried_out(
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
    mongo_db: AsyncDatabase[Any],
) -> None:
    instance = f"rs{uuid.uuid4().hex[:8]}"
    store = f"store-{instance}"
    # An old thread, from before activation: only a manual resync brings it in.
    written = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/messages",
        json={
            "body": "Ancien message",
            "sender": "CUSTOMER",
            "sent_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        },
    )
    thread_id = written.json()["thread_id"]
    repo = MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))
    now = datetime.now(UTC)
    await repo.add(
        Connection(
            id=f"c-{instance}",
            store_id=store,
            family="mirakl",
            marketplace=instance,
            base_url=f"http://sandbox/mirakl/{instance}",
            credentials={"api_key": "sandbox-shop-key"},
            activated_at=now,
            cursor=now,
            next_sync_at=now + timedelta(hours=1),
        )
    )

    def build(c: Connection) -> MiraklConnector:
        return MiraklConnector(c, MiraklClient(c.base_url, c.credentials["api_key"], http=sandbox))

    handler = ResyncHandler(repo, SyncService(build, KafkaSnapshotSink(publisher)))
    consumer = asyncio.create_task(
        run_consumer(
            kafka_bootstrap,
            f"test-ingest-{instance}",
            INGEST_COMMANDS,
            handler.handle,
            publisher,
            stage="ingest",
            topic_prefix=session_topic_prefix(),
        )
    )
    try:
        async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
            for thread in (thread_id, None):
                request = ResyncRequest(
                    request_id=uuid.uuid4().hex,
                    store_id=store,
                    marketplace=instance,
                    thread_id=thread,
                    requested_by="test",
                    requested_at=datetime.now(UTC),
                )
                await publisher.publish(
                    INGEST_COMMANDS,
                    Envelope[ResyncRequest](
                        source="/test",
                        type=RESYNC_REQUESTED.name,
                        subject=f"{store}:{instance}:{thread or '*'}",
                        data=request,
                    ),
                )
            (record,) = await probe.wait_for(
                lambda r: r.key == f"{store}:{instance}:{thread_id}".encode(), timeout=60
            )
        assert record.envelope().data.messages[0].body == "Ancien message"

        async def connection_due() -> bool:
            return await repo.due_ids(datetime.now(UTC), 10) == [f"c-{instance}"]

        await eventually(connection_due, timeout=30)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
