"""Ingest's Fnac connector against the sandbox, publishing to the real Kafka broker.

The sandbox runs in-process (its XML API through httpx's ASGI transport); snapshots
and dead letters go to the real broker and are read back from it. Each test uses its
own sandbox marketplace instance, so records of other tests never match.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.kafka import TopicProbe, session_topic_prefix

from parley_connectors.fnac import FnacClient
from parley_connectors.fnac.reading import FnacConnector
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection
from parley_ingest.sync import SyncService
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app
from parley_sandbox.fnac.store import DEFAULT_KEY, DEFAULT_PARTNER_ID, DEFAULT_SHOP_ID
from parley_schemas import DEAD_LETTERS, MARKETPLACE_RAW, ParticipantRole, RawThreadSnapshot

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
    p = KafkaPublisher(kafka_bootstrap, "test-ingest-fnac", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def instance() -> str:
    return f"it{uuid.uuid4().hex[:8]}"


def connection(instance: str, activated: datetime) -> Connection:
    return Connection(
        id=f"c-{instance}",
        store_id=f"store-{instance}",
        family="fnac",
        marketplace=instance,
        base_url=f"http://sandbox/fnac/{instance}/api.php",
        credentials={
            "partner_id": DEFAULT_PARTNER_ID,
            "shop_id": DEFAULT_SHOP_ID,
            "key": DEFAULT_KEY,
        },
        activated_at=activated,
        cursor=activated,
    )


def service(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, *, timeout: float = 30
) -> SyncService:
    def build(c: Connection) -> FnacConnector:
        creds = c.credentials
        client = FnacClient(
            c.base_url,
            creds["partner_id"],
            creds["shop_id"],
            creds["key"],
            http=sandbox,
            timeout=timeout,
        )
        return FnacConnector(c, client, page_size=3)

    return SyncService(build, KafkaSnapshotSink(publisher))


async def write(
    sandbox: httpx.AsyncClient, instance: str, body: str, **fields: Any
) -> dict[str, Any]:
    r = await sandbox.post(
        f"/_sandbox/fnac/{instance}/messages",
        json={"body": body, "sender_name": "Camille Martin", **fields},
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def arm(sandbox: httpx.AsyncClient, instance: str, **fault: Any) -> None:
    r = await sandbox.post(f"/_sandbox/fnac/{instance}/faults", json=fault)
    assert r.status_code == 201, r.text


def snapshots_of(records: list[Any]) -> dict[str, RawThreadSnapshot]:
    return {s.thread_id: s for s in (r.envelope().data for r in records)}


async def test_conversations_across_pages_become_snapshots_and_the_cursor_moves_on(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str, instance: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await write(sandbox, instance, "Ancien message", sent_at=(now - timedelta(days=2)).isoformat())
    activated = now - timedelta(hours=1)
    threads = []
    for n in range(7):
        answer = await write(
            sandbox,
            instance,
            f"Bonjour, où en est la commande {n} ?",
            order_id=f"ORD{n:010d}",
            sent_at=(now - timedelta(minutes=50 - n)).isoformat(),
        )
        threads.append(answer["thread_id"])
    claim = await write(
        sandbox,
        instance,
        "Une réclamation a été ouverte sur cette commande.",
        order_id=threads[2].split(":", 1)[1],
        from_type="CALLCENTER",
        sent_at=(now - timedelta(minutes=30)).isoformat(),
    )
    sync = service(sandbox, publisher)

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        outcome = await sync.sync(connection(instance, activated), now)
        records = await probe.wait_for(lambda r: instance.encode() in (r.key or b""), count=7)

    snapshots = snapshots_of(records)
    assert set(snapshots) == set(threads), "every conversation active after activation, once"
    assert outcome.published == 7 and outcome.dead_lettered == 0
    claimed = snapshots[threads[2]]
    assert [m.sender.role for m in claimed.messages] == [
        ParticipantRole.CUSTOMER,
        ParticipantRole.OPERATOR,
    ]
    assert claimed.messages[1].marketplace_message_id == claim["message_id"]
    assert claimed.entities[0].type == "order" and claimed.channel == "messages"
    assert claimed.family == "fnac"
    assert outcome.connection.cursor == now - timedelta(minutes=30)

    # Incremental: only what changed since the cursor (the boundary conversation may repeat).
    later = await write(sandbox, instance, "Et maintenant ?", order_id="NEWORDER00001")
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        second = await sync.sync(outcome.connection, datetime.now(UTC))
        records = await probe.wait_for(lambda r: later["thread_id"].encode() in (r.key or b""))
        await probe.drain(1.0)
    published = {
        s.thread_id for s in (r.envelope().data for r in probe.seen) if instance in s.store_id
    }
    assert later["thread_id"] in published
    assert published <= {later["thread_id"], threads[2]}
    assert second.connection.cursor > outcome.connection.cursor


async def test_a_malformed_conversation_is_dead_lettered_and_the_sync_goes_on(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str, instance: str
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    broken = await write(
        sandbox, instance, "premier", sent_at=(activated + timedelta(minutes=1)).isoformat()
    )
    fine = await write(sandbox, instance, "second")
    # Both the listing and the re-read of the first conversation come back corrupt.
    await arm(sandbox, instance, kind="malformed", count=2, operations=["messages_query"])

    async with (
        TopicProbe(kafka_bootstrap, DEAD_LETTERS) as dead,
        TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as raw,
    ):
        outcome = await service(sandbox, publisher).sync(
            connection(instance, activated), datetime.now(UTC)
        )
        (letter,) = await dead.wait_for(lambda r: instance.encode() in (r.value or b""))
        (record,) = await raw.wait_for(lambda r: instance.encode() in (r.key or b""))

    assert outcome.dead_lettered == 1 and outcome.published == 1
    assert letter.envelope().data.stage == "ingest"
    assert broken["thread_id"].encode() in (letter.value or b"")
    assert record.envelope().data.thread_id == fine["thread_id"]
    assert outcome.connection.cursor > activated


@pytest.mark.parametrize(
    ("fault", "expect_failures"),
    [
        ({"kind": "server_error", "status": 500}, 1),
        ({"kind": "slow", "delay_seconds": 1.0}, 1),
        ({"kind": "garbage"}, 1),
    ],
)
async def test_marketplace_faults_keep_the_cursor_and_back_off(
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    instance: str,
    fault: dict[str, Any],
    expect_failures: int,
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    await write(sandbox, instance, "Bonjour")
    await arm(sandbox, instance, operations=["messages_query"], **fault)
    now = datetime.now(UTC)

    outcome = await service(sandbox, publisher, timeout=0.3).sync(
        connection(instance, activated), now
    )

    assert outcome.failures == expect_failures and outcome.published == 0
    assert outcome.connection.cursor == activated
    assert outcome.next_sync_at > now
    retried = await service(sandbox, publisher).sync(outcome.connection, datetime.now(UTC))
    assert retried.published == 1 and retried.failures == 0


async def test_rate_limit_waits_for_retry_after(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, instance: str
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    await write(sandbox, instance, "Bonjour")
    await arm(sandbox, instance, kind="rate_limit", retry_after=42)
    now = datetime.now(UTC)

    limited = await service(sandbox, publisher).sync(connection(instance, activated), now)

    assert limited.next_sync_at == now + timedelta(seconds=42)
    assert limited.connection.cursor == activated and limited.published == 0
