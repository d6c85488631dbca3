"""The gateway while a dependency is really unavailable: honest answers, nothing half done.

Each test starts a gateway (the real app, real adapters) whose MongoDB URI or Kafka
bootstrap points at a local port nobody listens on (or one that accepts connections
and never answers), with short bounds from its settings.

- MongoDB down: every answer is a 503 problem+json with Retry-After, naming the bound
  but no internals (nothing can be read or stored).
- Kafka down: commands are still taken (202), because the gateway's outbox in MongoDB,
  not the broker, is where a command becomes durable; a gateway that reaches the
  broker relays them later with the ids they were stored with. Speed is not asserted:
  the bounds are settings.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import PEPPER
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe
from support.waiting import eventually

from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_platform.outbox import MongoOutbox
from parley_schemas import (
    CONVERSATION_COMMANDS,
    CONVERSATION_EVENTS,
    DISCUSSION_READ_CHANGED,
    DISCUSSION_STATUS_CHANGED,
    REPLY_REQUESTED,
    RESYNC_REQUESTED,
    utcnow,
)
from parley_store import DISCUSSIONS

BASE_URL = "http://gateway"
RETRY_AFTER = "7"


def closed_port() -> int:
    """A local port with no listener: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A local port that accepts connections and never answers a byte."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


@asynccontextmanager
async def running(settings: GatewaySettings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield client, app.state.runtime


def assert_unavailable(response: httpx.Response, problem_type: str, bound: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == RETRY_AFTER
    problem: dict[str, Any] = response.json()
    assert problem["status"] == 503
    assert problem["type"].endswith(problem_type)
    assert bound in problem["detail"]
    text = response.text.lower()
    for internal in ("pymongo", "kafka", "127.0.0.1", "traceback", "error:"):
        assert internal not in text, f"{internal!r} leaked into {response.text}"
    return problem


# -------------------------------------------------------------------- MongoDB down


@pytest.fixture
async def without_mongodb(
    kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        mongodb_uri=f"mongodb://127.0.0.1:{closed_port()}/",
        mongodb_database="parley_test_unreachable",
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=topic_prefix,
        api_key_pepper=PEPPER,
        mongodb_server_selection_timeout_ms=300,
        mongodb_connect_timeout_ms=300,
        gateway_retry_after_seconds=int(RETRY_AFTER),
    )
    async with running(settings) as (client, _):
        # Well-formed, so the gateway has to look it up in the store to check it.
        client.headers["Authorization"] = f"Bearer prl_{'0' * 12}_{'k' * 43}"
        yield client


async def test_reads_and_writes_answer_503_while_mongodb_is_down(
    without_mongodb: httpx.AsyncClient,
) -> None:
    gateway = without_mongodb
    calls = [
        gateway.get("/discussions"),
        gateway.get("/discussions/counts"),
        gateway.get("/discussions/d-1"),
        gateway.patch("/discussions/d-1", json={"read": True}),
        gateway.post("/discussions/d-1/replies", json={"body": "Shipped today."}),
        gateway.post("/discussions/bulk-status", json={"ids": ["d-1"], "status": "solved"}),
    ]
    for call in calls:
        response = await call
        assert_unavailable(response, "/store-unavailable", "within 0.3 s")


async def test_graphql_answers_503_while_mongodb_is_down(
    without_mongodb: httpx.AsyncClient,
) -> None:
    response = await without_mongodb.post(
        "/graphql", json={"query": "{ discussions { items { threadId } } }"}
    )
    assert_unavailable(response, "/store-unavailable", "within 0.3 s")


# ---------------------------------------------------------------------- Kafka down


@pytest.fixture
async def stored(mongo_db: AsyncDatabase[Any]) -> dict[str, Any]:
    doc = discussion_doc(f"store-{uuid.uuid4().hex[:10]}", "t-outage")
    await mongo_db[DISCUSSIONS].insert_one(doc)
    return doc


@asynccontextmanager
async def gateway_with_kafka_at(
    bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], store_id: str, prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        mongodb_uri=mongo_uri,
        mongodb_database=mongo_db.name,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=prefix,
        api_key_pepper=PEPPER,
        kafka_request_timeout_ms=800,
        gateway_command_timeout_seconds=1.5,
        gateway_retry_after_seconds=int(RETRY_AFTER),
    )
    async with running(settings) as (client, runtime):
        account, _ = await runtime.access.create_account("Outage shop", [store_id])
        key = await runtime.access.issue_key(account.id, name="outage")
        client.headers["Authorization"] = f"Bearer {key.secret}"
        yield client


async def kept_for_the_relay(mongo_db: AsyncDatabase[Any], key: str) -> list[dict[str, Any]]:
    """The gateway's outbox records of one discussion, in the order the relay takes them."""
    outbox = MongoOutbox(mongo_db, "gateway")
    return [
        {"id": r.id, "topic": r.topic.name, "type": r.envelope.type, "data": r.envelope.data}
        for r in await outbox.pending(1000, utcnow() + timedelta(seconds=1))
        if r.envelope.subject == key
    ]


async def assert_kept_while_kafka_is_away(
    gateway: httpx.AsyncClient, mongo_db: AsyncDatabase[Any], doc: dict[str, Any]
) -> list[dict[str, Any]]:
    """Accepted, stored in the outbox, not lost: the broker is not needed to take a command
    or to change a discussion (the outbox is), so the merchant is not asked to do it again
    and consumers still learn of the change."""
    changed = await gateway.patch(f"/discussions/{doc['_id']}", json={"status": "pending"})
    assert changed.status_code == 200, changed.text
    reply = await gateway.post(
        f"/discussions/{doc['_id']}/replies", json={"body": "Your parcel left today."}
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["state"] == "queued"
    resync = await gateway.post(f"/discussions/{doc['_id']}/resync")
    assert resync.status_code == 202, resync.text
    opened = await gateway.patch(f"/discussions/{doc['_id']}", json={"read": True})
    assert opened.status_code == 200, opened.text

    kept = await kept_for_the_relay(mongo_db, doc["key"])
    assert [k["type"] for k in kept] == [
        DISCUSSION_STATUS_CHANGED.name,
        REPLY_REQUESTED.name,
        RESYNC_REQUESTED.name,
        DISCUSSION_READ_CHANGED.name,
    ]
    assert kept[0]["data"]["status"] == "pending"
    assert kept[1]["data"]["command_id"] == reply.json()["command_id"]
    assert kept[3]["data"]["read"] is True
    # Reads do not need the broker.
    assert (await gateway.get(f"/discussions/{doc['_id']}")).status_code == 200
    return kept


async def assert_relayed_once_kafka_answers(
    mongo_uri: str,
    mongo_db: AsyncDatabase[Any],
    doc: dict[str, Any],
    kept: list[dict[str, Any]],
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    """A gateway with a broker (this one restarted, or another replica) relays what the
    outage left, in order, with the ids it was stored with; the outbox ends empty."""
    mine = doc["key"].encode()
    async with (
        TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS, topic_prefix) as commands,
        TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS, topic_prefix) as events,
        gateway_with_kafka_at(kafka_bootstrap, mongo_uri, mongo_db, doc["store_id"], topic_prefix),
    ):
        [command] = await commands.wait_for(lambda r: r.key == mine, timeout=30)
        announced = await events.wait_for(lambda r: r.key == mine, count=2, timeout=30)

        async def relayed() -> bool:
            return not await kept_for_the_relay(mongo_db, doc["key"])

        await eventually(relayed, timeout=30)
    relayed_reply = command.envelope()
    assert relayed_reply.id == kept[1]["id"]
    assert relayed_reply.data.body == "Your parcel left today."
    assert [r.envelope().id for r in announced] == [kept[0]["id"], kept[3]["id"]]


async def test_commands_and_changes_taken_while_kafka_refuses_connections_are_relayed_later(
    mongo_uri: str,
    mongo_db: AsyncDatabase[Any],
    stored: dict[str, Any],
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    away = f"127.0.0.1:{closed_port()}"
    async with gateway_with_kafka_at(
        away, mongo_uri, mongo_db, stored["store_id"], topic_prefix
    ) as gateway:
        kept = await assert_kept_while_kafka_is_away(gateway, mongo_db, stored)
    await assert_relayed_once_kafka_answers(
        mongo_uri, mongo_db, stored, kept, kafka_bootstrap, topic_prefix
    )


async def test_commands_are_taken_within_their_bound_while_kafka_hangs(
    mongo_uri: str,
    mongo_db: AsyncDatabase[Any],
    stored: dict[str, Any],
    silent_port: int,
    topic_prefix: str,
) -> None:
    async with gateway_with_kafka_at(
        f"127.0.0.1:{silent_port}", mongo_uri, mongo_db, stored["store_id"], topic_prefix
    ) as gateway:
        await assert_kept_while_kafka_is_away(gateway, mongo_db, stored)
