"""A connection's sync health, end to end on the real stack: ingest's scheduler syncs
against the in-process marketplace sandbox (faults injected through its control
API), records the outcome in MongoDB, and the gateway shows it through REST and
GraphQL, to the connection's account only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import ClientFactory
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import session_topic_prefix

from parley_connectors.mirakl import MiraklClient
from parley_connectors.mirakl.reading import MiraklConnector
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection
from parley_ingest.scheduler import Scheduler
from parley_ingest.sync import SyncService
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app as create_sandbox
from parley_store import ConnectionDocument

pytestmark = pytest.mark.integration

GOOD_KEY = "sandbox-shop-key"
CONNECTIONS_QUERY = """
query($stores: [String!]) {
  connections(storeIds: $stores) {
    id storeId family marketplace messagingEnabled health healthReason lastSyncAt
    consecutiveFailures nextSyncAt inboundAddress lastError { kind message at }
  }
}
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_sandbox(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-connection-health", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def repo(gateway_db: AsyncDatabase[Any]) -> MongoConnectionRepository:
    return MongoConnectionRepository(gateway_db, CredentialCipher(CredentialCipher.generate_key()))


async def one_pass(
    repo: MongoConnectionRepository,
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    connection_id: str,
) -> ConnectionDocument:
    """Makes the connection due, lets ingest's scheduler sync it once, answers the
    stored document."""
    assert await repo.request_resync(connection_id)

    def build(c: Connection) -> MiraklConnector:
        return MiraklConnector(c, MiraklClient(c.base_url, c.credentials["api_key"], http=sandbox))

    scheduler = Scheduler(
        repo,
        SyncService(build, KafkaSnapshotSink(publisher)),
        owner=f"test-{uuid.uuid4().hex[:6]}",
        tick_seconds=1,
        lease_seconds=60,
        max_concurrent=1,
    )
    # Other tests' connections are never due: each test removes its own at the end.
    await scheduler.tick()
    await scheduler.stop()
    doc = await repo.describe(connection_id)
    assert doc is not None
    return doc


async def fault(sandbox: httpx.AsyncClient, instance: str, **body: object) -> None:
    r = await sandbox.post(f"/_sandbox/mirakl/{instance}/faults", json={"count": 1, **body})
    assert r.status_code == 201, r.text


async def listed(client: httpx.AsyncClient, connection_id: str) -> dict[str, Any]:
    r = await client.get("/connections")
    assert r.status_code == 200, r.text
    (item,) = [c for c in r.json()["items"] if c["id"] == connection_id]
    return dict(item)


async def graphql(client: httpx.AsyncClient, stores: list[str] | None = None) -> list[Any]:
    r = await client.post(
        "/graphql", json={"query": CONNECTIONS_QUERY, "variables": {"stores": stores}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return list(body["data"]["connections"])


async def test_failures_are_recorded_shown_to_the_owner_only_and_cleared_by_a_success(
    repo: MongoConnectionRepository,
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    gateway_as: ClientFactory,
    store_id: str,
) -> None:
    instance = f"hl{uuid.uuid4().hex[:8]}"
    connection_id = f"c-{instance}"
    activated = datetime.now(UTC) - timedelta(hours=1)
    r = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/messages",
        json={"body": "Où est mon colis ?", "sender": "CUSTOMER", "customer_name": "Ana"},
    )
    assert r.status_code == 201, r.text
    await repo.add(
        Connection(
            id=connection_id,
            store_id=store_id,
            family="mirakl",
            marketplace=instance,
            base_url=f"http://sandbox/mirakl/{instance}",
            credentials={"api_key": GOOD_KEY},
            activated_at=activated,
            cursor=activated,
        )
    )
    owner, _ = await gateway_as(store_id)
    stranger, _ = await gateway_as(f"other-{uuid.uuid4().hex[:8]}")
    try:
        fresh = await listed(owner, connection_id)
        assert fresh["health"] == "ok" and fresh["last_error"] is None
        assert fresh["last_sync_at"] is None and fresh["consecutive_failures"] == 0

        # The marketplace fails (5xx): recorded as unavailable, retried with backoff.
        await fault(sandbox, instance, kind="server_error")
        doc = await one_pass(repo, sandbox, publisher, connection_id)
        assert doc.last_error is not None and doc.last_error.kind == "unavailable"
        assert doc.consecutive_failures == 1 and doc.health == "ok"
        assert doc.last_sync_at is None
        assert doc.next_sync_at is not None and doc.next_sync_at > datetime.now(UTC)

        # It asks to slow down (429): one more failure, of its own kind.
        await fault(sandbox, instance, kind="rate_limit", retry_after=30)
        doc = await one_pass(repo, sandbox, publisher, connection_id)
        assert doc.last_error is not None and doc.last_error.kind == "rate_limited"
        assert doc.consecutive_failures == 2

        # The credentials are refused (401): the connection needs a person.
        await repo.save_credentials(connection_id, {"api_key": "revoked-key-0042"})
        doc = await one_pass(repo, sandbox, publisher, connection_id)
        assert doc.last_error is not None and doc.last_error.kind == "auth_failed"
        assert doc.health == "needs_attention" and doc.consecutive_failures == 3
        assert "revoked-key-0042" not in doc.last_error.message

        shown = await listed(owner, connection_id)
        assert shown["health"] == "needs_attention" and shown["health_reason"]
        assert shown["last_error"]["kind"] == "auth_failed"
        assert shown["last_error"]["message"] == doc.last_error.message
        assert shown["consecutive_failures"] == 3
        assert shown["store_id"] == store_id and shown["family"] == "mirakl"
        assert shown["messaging_enabled"] is True and shown["inbound_address"] is None
        assert set(shown) == {
            "id",
            "store_id",
            "family",
            "marketplace",
            "messaging_enabled",
            "health",
            "health_reason",
            "last_sync_at",
            "last_error",
            "consecutive_failures",
            "next_sync_at",
            "inbound_address",
        }
        raw = (await owner.get("/connections")).text
        for secret in ("revoked-key-0042", GOOD_KEY, "base_url", '"credentials"'):
            assert secret not in raw

        (node,) = await graphql(owner, [store_id])
        assert node["id"] == connection_id and node["health"] == "needs_attention"
        assert node["lastError"]["kind"] == "AUTH_FAILED"
        assert node["consecutiveFailures"] == 3

        # Another account sees none of it, even when asking for the store by id.
        r = await stranger.get("/connections", params={"store_id": store_id})
        assert r.status_code == 200 and r.json()["items"] == []
        assert connection_id not in (await stranger.get("/connections")).text
        assert await graphql(stranger, [store_id]) == []
        assert (await owner.get("/connections", params={"store_id": "other"})).json() == {
            "items": []
        }

        # Fixed credentials and a resync that retries it: the error is cleared.
        await repo.save_credentials(connection_id, {"api_key": GOOD_KEY})
        assert await repo.request_resync(connection_id, retry_attention=True)
        doc = await one_pass(repo, sandbox, publisher, connection_id)
        assert doc.health == "ok" and doc.last_error is None
        assert doc.consecutive_failures == 0 and doc.last_sync_at is not None
        assert doc.cursor > activated
        healthy = await listed(owner, connection_id)
        assert healthy["last_error"] is None and healthy["last_sync_at"] is not None
        (node,) = await graphql(owner)
        assert node["lastError"] is None and node["consecutiveFailures"] == 0
    finally:
        await repo.remove(connection_id)


async def test_email_relay_connections_show_the_address_to_configure(
    repo: MongoConnectionRepository, gateway: httpx.AsyncClient, store_id: str
) -> None:
    now = datetime.now(UTC)
    connection_id = f"c-relay-{uuid.uuid4().hex[:8]}"
    await repo.add(
        Connection(
            id=connection_id,
            store_id=store_id,
            family="email_relay",
            marketplace="amazon_fr",
            base_url="mailto:shop@inbound.parley.example",
            credentials={},
            activated_at=now,
            cursor=now,
            messaging_enabled=False,
            options={"inbound_address": "shop@inbound.parley.example"},
        )
    )
    try:
        item = await listed(gateway, connection_id)
        assert item["inbound_address"] == "shop@inbound.parley.example"
        assert item["messaging_enabled"] is False
        (node,) = await graphql(gateway, [store_id])
        assert node["inboundAddress"] == "shop@inbound.parley.example"
    finally:
        await repo.remove(connection_id)


async def test_connections_need_a_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/connections")).status_code == 401
    r = await anonymous.post("/graphql", json={"query": "{ connections { id } }"})
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
