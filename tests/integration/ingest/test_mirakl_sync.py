"""Ingest's Mirakl connector against the sandbox, publishing to the real Kafka broker.

The sandbox runs in-process (its HTTP API through httpx's ASGI transport); the
snapshots and dead letters go to the real broker and are read back from it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.kafka import TopicProbe, session_topic_prefix

from parley_connectors.mirakl import MiraklClient
from parley_connectors.mirakl.reading import MiraklConnector
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_ingest.sync import SyncService
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app
from parley_schemas import DEAD_LETTERS, MARKETPLACE_RAW, ParticipantRole
from parley_store import GridFsFileStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-ingest", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


def connection(instance: str, activated: datetime, key: str = "sandbox-shop-key") -> Connection:
    return Connection(
        id=f"c-{instance}",
        store_id=f"store-{instance}",
        family="mirakl",
        marketplace=instance,
        base_url=f"http://sandbox/mirakl/{instance}",
        credentials={"api_key": key},
        activated_at=activated,
        cursor=activated,
    )


def service(sandbox: httpx.AsyncClient, publisher: KafkaPublisher) -> SyncService:
    def build(c: Connection) -> MiraklConnector:
        client = MiraklClient(c.base_url, c.credentials["api_key"], http=sandbox)
        return MiraklConnector(c, client)

    return SyncService(build, KafkaSnapshotSink(publisher))


async def write(sandbox: httpx.AsyncClient, instance: str, body: str, **extra: object) -> str:
    r = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/messages",
        json={"body": body, "sender": "CUSTOMER", "customer_name": "Jan Kowalski", **extra},
    )
    assert r.status_code == 201, r.text
    thread_id: str = r.json()["thread_id"]
    return thread_id


async def test_threads_after_activation_become_snapshots_and_the_cursor_moves(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    instance = f"it{uuid.uuid4().hex[:8]}"
    old = await write(
        sandbox,
        instance,
        "Stara wiadomość",
        sent_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
    )
    activated = datetime.now(UTC) - timedelta(hours=1)
    new = await write(sandbox, instance, "Dzień dobry, gdzie jest paczka?", order_id="PL-1")
    sync = service(sandbox, publisher)

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        outcome = await sync.sync(connection(instance, activated), datetime.now(UTC))
        records = await probe.wait_for(lambda r: instance.encode() in (r.key or b""))
    snapshots = [r.envelope().data for r in records]
    assert [s.thread_id for s in snapshots] == [new], "only activity after activation"
    assert old not in {s.thread_id for s in snapshots}
    (snap,) = snapshots
    assert snap.messages[0].body == "Dzień dobry, gdzie jest paczka?"
    assert snap.messages[0].sender.role is ParticipantRole.CUSTOMER
    assert any(e.type == "order" and e.id == "PL-1" for e in snap.entities)
    assert outcome.published == 1
    assert outcome.connection.cursor > activated


async def test_a_malformed_thread_is_dead_lettered_and_the_sync_goes_on(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    instance = f"it{uuid.uuid4().hex[:8]}"
    activated = datetime.now(UTC) - timedelta(hours=1)
    await write(sandbox, instance, "first")
    await write(sandbox, instance, "second")
    r = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/faults",
        json={"kind": "malformed", "count": 1, "operations": ["M11"]},
    )
    assert r.status_code == 201, r.text
    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS) as dead:
        outcome = await service(sandbox, publisher).sync(
            connection(instance, activated), datetime.now(UTC)
        )
        (letter,) = await dead.wait_for(lambda r: instance.encode() in (r.value or b""))
    assert outcome.dead_lettered == 1 and outcome.published == 1
    assert letter.envelope().data.stage == "ingest"


async def test_rate_limit_and_bad_credentials_are_handled(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher
) -> None:
    instance = f"it{uuid.uuid4().hex[:8]}"
    activated = datetime.now(UTC) - timedelta(hours=1)
    await write(sandbox, instance, "hello")
    await sandbox.post(
        f"/_sandbox/mirakl/{instance}/faults",
        json={"kind": "rate_limit", "count": 1, "retry_after": 42},
    )
    now = datetime.now(UTC)
    limited = await service(sandbox, publisher).sync(connection(instance, activated), now)
    assert limited.next_sync_at == now + timedelta(seconds=42)
    assert limited.connection.cursor == activated

    refused = await service(sandbox, publisher).sync(
        connection(instance, activated, key="wrong-key"), now
    )
    assert refused.connection.health is ConnectionHealth.NEEDS_ATTENTION


async def test_attachments_are_stored_once_with_name_size_and_type(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str, mongo_db: Any
) -> None:
    instance = f"it{uuid.uuid4().hex[:8]}"
    activated = datetime.now(UTC) - timedelta(hours=1)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    await write(
        sandbox,
        instance,
        "Le colis est arrivé abîmé, voici une photo.",
        attachments=[
            {
                "name": "colis abîmé.png",
                "content_base64": base64.b64encode(photo).decode(),
                "content_type": "image/png",
            }
        ],
    )
    files = GridFsFileStore(mongo_db)

    def build(c: Connection) -> MiraklConnector:
        return MiraklConnector(c, MiraklClient(c.base_url, c.credentials["api_key"], http=sandbox))

    sync = SyncService(build, KafkaSnapshotSink(publisher), files)
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        await sync.sync(connection(instance, activated), datetime.now(UTC))
        await sync.sync(connection(instance, activated), datetime.now(UTC))
        records = await probe.wait_for(lambda r: instance.encode() in (r.key or b""), count=2)
    refs = [r.envelope().data.messages[0].attachments[0] for r in records]
    assert refs[0].file_id is not None and refs[0].file_id == refs[1].file_id
    stored = await files.open(refs[0].file_id)
    assert stored.content == photo
    assert stored.name == "colis abîmé.png"
    assert refs[0].size == len(photo)
    assert refs[0].content_type == "image/png"
    assert await mongo_db["files.files"].count_documents({}) == 1
