"""Ingest's Rakuten France connector against the sandbox, publishing to the real Kafka broker.

The sandbox runs in-process; snapshots and dead letters go to the real broker and
are read back from it. Each test uses its own sandbox seller account.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support.kafka import TopicProbe, session_topic_prefix

from parley_connectors.rakuten import RakutenClient
from parley_connectors.rakuten.reading import RakutenConnector
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection
from parley_ingest.sync import SyncService
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app
from parley_sandbox.rakuten.store import DEFAULT_LOGIN, DEFAULT_TOKEN
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
    p = KafkaPublisher(kafka_bootstrap, "test-ingest-rakuten", session_topic_prefix())
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
        family="rakuten",
        marketplace=instance,
        base_url=f"http://sandbox/rakuten/{instance}",
        credentials={"login": DEFAULT_LOGIN, "token": DEFAULT_TOKEN},
        activated_at=activated,
        cursor=activated,
    )


def service(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, *, timeout: float = 30
) -> SyncService:
    def build(c: Connection) -> RakutenConnector:
        client = RakutenClient(
            c.base_url,
            c.credentials["login"],
            c.credentials["token"],
            http=sandbox,
            timeout=timeout,
        )
        return RakutenConnector(c, client)

    return SyncService(build, KafkaSnapshotSink(publisher))


async def write(
    sandbox: httpx.AsyncClient, instance: str, body: str, **fields: Any
) -> dict[str, Any]:
    r = await sandbox.post(
        f"/_sandbox/rakuten/{instance}/messages",
        json={"body": body, "buyer": "marie.dupont75", **fields},
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def arm(sandbox: httpx.AsyncClient, instance: str, **fault: Any) -> None:
    r = await sandbox.post(f"/_sandbox/rakuten/{instance}/faults", json=fault)
    assert r.status_code == 201, r.text


def published_threads(records: list[Any], instance: str) -> dict[str, RawThreadSnapshot]:
    snapshots = (r.envelope().data for r in records)
    return {s.thread_id: s for s in snapshots if s.marketplace == instance}


async def test_todo_pages_become_snapshots_after_activation_and_the_cursor_moves_on(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str, instance: str
) -> None:
    await sandbox.put(f"/_sandbox/rakuten/{instance}", json={"todo_page_size": 2})
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old = await write(
        sandbox, instance, "Vieux message", sent_at=(now - timedelta(days=2)).isoformat()
    )
    activated = now - timedelta(hours=1)
    items = []
    for n in range(5):
        answer = await write(
            sandbox,
            instance,
            f"Bonjour, ma commande {n} est-elle partie ?",
            sent_at=(now - timedelta(minutes=50 - n)).isoformat(),
        )
        items.append(answer)
    mail = await write(
        sandbox,
        instance,
        "Une réclamation a été ouverte.",
        itemid=items[1]["itemid"],
        sender="RAKUTEN",
        subject="Réclamation",
        sent_at=(now - timedelta(minutes=30)).isoformat(),
    )
    sync = service(sandbox, publisher)

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        outcome = await sync.sync(connection(instance, activated), now)
        records = await probe.wait_for(lambda r: instance.encode() in (r.key or b""), count=5)

    snapshots = published_threads(records, instance)
    assert set(snapshots) == {i["thread_id"] for i in items}
    assert old["thread_id"] not in snapshots, "only conversations active after activation"
    assert outcome.published == 5 and outcome.dead_lettered == 0
    claimed = snapshots[items[1]["thread_id"]]
    assert [m.sender.role for m in claimed.messages] == [
        ParticipantRole.CUSTOMER,
        ParticipantRole.OPERATOR,
    ]
    assert claimed.messages[1].marketplace_message_id == f"mail-{mail['mailid']}"
    assert claimed.entities[0].type == "order" and claimed.entities[0].id == items[1]["purchaseid"]
    assert claimed.messages[0].sender.name == "marie.dupont75"
    assert outcome.connection.cursor == now - timedelta(minutes=30)

    # Incremental: items quiet since the cursor are skipped, new activity is pulled.
    later = await write(sandbox, instance, "Et ma nouvelle commande ?")
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        second = await sync.sync(outcome.connection, datetime.now(UTC))
        await probe.wait_for(lambda r: later["thread_id"].encode() in (r.key or b""))
        await probe.drain(1.0)
    published = set(published_threads(probe.seen, instance))
    assert later["thread_id"] in published
    assert published <= {later["thread_id"], items[1]["thread_id"]}
    assert second.connection.cursor > outcome.connection.cursor


async def test_a_malformed_item_is_dead_lettered_and_the_sync_goes_on(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, kafka_bootstrap: str, instance: str
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    broken = await write(
        sandbox, instance, "premier", sent_at=(activated + timedelta(minutes=5)).isoformat()
    )
    fine = await write(sandbox, instance, "second")
    await arm(sandbox, instance, kind="malformed", count=1, operations=["getiteminfos"])

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


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "server_error", "status": 500},
        {"kind": "slow", "delay_seconds": 1.0},
        {"kind": "garbage", "operations": ["getitemtodolist"]},
    ],
)
async def test_marketplace_faults_keep_the_cursor_and_back_off(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, instance: str, fault: dict[str, Any]
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    await write(sandbox, instance, "Bonjour")
    await arm(sandbox, instance, **fault)
    now = datetime.now(UTC)

    outcome = await service(sandbox, publisher, timeout=0.3).sync(
        connection(instance, activated), now
    )

    assert outcome.failures == 1 and outcome.published == 0
    assert outcome.connection.cursor == activated and outcome.next_sync_at > now
    retried = await service(sandbox, publisher).sync(outcome.connection, datetime.now(UTC))
    assert retried.published == 1 and retried.failures == 0


async def test_rate_limit_waits_for_retry_after(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, instance: str
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    await write(sandbox, instance, "Bonjour")
    await arm(sandbox, instance, kind="rate_limit", retry_after=42, operations=["getiteminfos"])
    now = datetime.now(UTC)

    limited = await service(sandbox, publisher).sync(connection(instance, activated), now)

    assert limited.next_sync_at == now + timedelta(seconds=42)
    assert limited.connection.cursor == activated and limited.published == 0
