"""Done-when of issue 13: the reference consumer (examples/unread_counter), fed only by
conversation events, agrees with the API's unread counts per store after a scripted
day: new buyer messages, opening, replies, status changes, a bulk change, retention.

Retention is the normalizer's own sweep run by the test with a clock 400 days ahead
and limited to the test's stores, so the other e2e tests' discussions stay."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup
from pymongo import AsyncMongoClient
from support.waiting import eventually

from parley_normalizer.adapters.kafka_events import KafkaEventSink
from parley_normalizer.adapters.mongo_retention import MongoRetentionStore
from parley_normalizer.domain.retention import RetentionPolicies
from parley_normalizer.retention import RetentionSweeper
from parley_platform.kafka import KafkaPublisher
from parley_store import DiscussionDocument, DiscussionStatus

pytestmark = pytest.mark.e2e

SOURCE = Path(__file__).resolve().parents[2] / "examples" / "unread_counter" / "counter.py"


def load_counter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unread_counter_e2e", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def store_id() -> str:
    return f"e2e-store-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def counter(kafka_bootstrap: str, e2e_topics: str) -> AsyncIterator[Any]:
    module = load_counter()
    unread = module.UnreadCounter()
    task = asyncio.create_task(module.follow(kafka_bootstrap, e2e_topics, unread))
    yield unread
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class StoreRetention:
    """The retention store limited to some stores (pages filtered)."""

    def __init__(self, inner: MongoRetentionStore, stores: set[str]) -> None:
        self._inner, self._stores = inner, stores

    async def _mine(self, pages: Any) -> AsyncIterator[list[DiscussionDocument]]:
        async for page in pages:
            yield [d for d in page if d.store_id in self._stores]

    def unreviewed(self, status: DiscussionStatus) -> AsyncIterator[list[DiscussionDocument]]:
        return self._mine(self._inner.unreviewed(status))

    def expired(self, now: datetime) -> AsyncIterator[list[DiscussionDocument]]:
        return self._mine(self._inner.expired(now))

    async def set_retention(self, discussion_id: str, retention: Any) -> None:
        await self._inner.set_retention(discussion_id, retention)

    async def purge(self, discussion_id: str, status: DiscussionStatus, now: datetime) -> bool:
        return await self._inner.purge(discussion_id, status, now)


async def api_unread(gateway: httpx.AsyncClient, store: str) -> int:
    response = await gateway.get("/discussions/counts", params={"store_id": store, "read": False})
    assert response.status_code == 200, response.text
    # The statuses' counts only: the body also has at_risk (a subset of them) and
    # at_risk_before (a moment).
    counts = response.json()
    return sum(int(counts[status.value]) for status in DiscussionStatus)


async def listed(gateway: httpx.AsyncClient, instance: str) -> list[dict[str, Any]]:
    response = await gateway.get("/discussions", params={"marketplace": instance})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_reference_consumer_counts_what_the_api_counts(
    system: ServiceGroup,
    store_id: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    counter: Any,
    kafka_bootstrap: str,
    e2e_topics: str,
    mongo_uri: str,
    e2e_database: str,
) -> None:
    instance = f"e2e{uuid.uuid4().hex[:8]}"
    system.activate(
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )

    async def agree(expected: int | None = None) -> None:
        async def same() -> bool:
            api = await api_unread(gateway, store_id)
            return counter.unread().get(store_id, 0) == api and expected in (None, api)

        await eventually(same, timeout=60)

    async def buyer(body: str, thread_id: str | None = None) -> str:
        payload: dict[str, Any] = {"body": body, "sender": "CUSTOMER"}
        if thread_id is None:
            payload |= {"customer_name": "Ana", "order_id": f"O-{uuid.uuid4().hex[:6]}"}
        else:
            payload["thread_id"] = thread_id
        response = await sandbox.post(f"/_sandbox/mirakl/{instance}/messages", json=payload)
        assert response.status_code == 201, response.text
        return str(response.json()["thread_id"])

    # Morning: three buyers write.
    threads = [await buyer(f"Question {i}") for i in range(3)]

    async def all_listed() -> bool:
        return len(await listed(gateway, instance)) == 3

    await eventually(all_listed, timeout=90)
    await agree(3)
    ids = {item["thread_id"]: item["id"] for item in await listed(gateway, instance)}
    first, second, third = (ids[t] for t in threads)

    # The merchant opens the first and replies, solving it.
    assert (await gateway.get(f"/discussions/{first}")).status_code == 200
    await agree(2)
    reply = await gateway.post(
        f"/discussions/{first}/replies", json={"body": "Done.", "action": "reply_and_solve"}
    )
    assert reply.status_code == 202, reply.text
    await agree(2)

    # The second is marked read by hand and put on pending; its buyer writes again.
    patched = await gateway.patch(
        f"/discussions/{second}", json={"read": True, "status": "pending"}
    )
    assert patched.status_code == 200, patched.text
    await agree(1)
    await buyer("Any news?", threads[1])
    await agree(2)

    # Bulk: everything closed (the read state stays).
    bulk = await gateway.post(
        "/discussions/bulk-status", json={"ids": [first, second, third], "status": "closed"}
    )
    assert bulk.status_code == 200, bulk.text
    await agree(2)

    # Retention, a year and more later: every discussion of the store goes.
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    publisher = KafkaPublisher(kafka_bootstrap, "e2e-retention", e2e_topics)
    await publisher.start()
    try:
        sweeper = RetentionSweeper(
            StoreRetention(MongoRetentionStore(client[e2e_database]), {store_id}),
            RetentionPolicies(),
            KafkaEventSink(publisher),
        )
        # Sweeps a year and more apart until the store is empty. The first reviews the
        # bulk close (dated then) unless the normalizer saw it first (dated now: that
        # one goes at once); a normalizer write still in flight from before the close
        # (the reply's delivery, its copy synced back) restores the old status's
        # retention, which the next sweep dates anew. Either way each goes once.
        deleted, moment = 0, datetime.now(UTC)
        for _ in range(4):
            moment += timedelta(days=400)
            deleted += await sweeper.sweep(moment)
            if deleted >= 3:
                break
        assert deleted == 3
    finally:
        await publisher.stop()
        await client.close()
    await agree(0)
    assert counter.unread().get(store_id, 0) == 0
