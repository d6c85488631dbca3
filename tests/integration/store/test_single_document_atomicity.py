"""The store applies each write to a document atomically, as MongoDB does.

Parley relies on it: the gateway's workflow fields and the normalizer's synced fields
live in one discussion document, each service writing only its own fields with a
field-level ``$set`` (the gateway through findAndModify, the normalizer through bulk
updates), and claims (ingest's leases, the normalizer's pending marks) are conditional
updates that exactly one claimant may win.

FerretDB v1 as released reads a document and writes it back whole in two statements,
so concurrent writers of one document lost each other's fields (the README e2e test
once saw its merchant ticket id vanish under a delivery's update) and every claimant
of a conditional update could win. The local stack builds it with
deploy/local/ferretdb/atomic-writes.patch; these tests fail without it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.integration

WRITES = 150


@pytest.fixture
async def second_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    """Another service's connection pool: writers that share nothing but the server."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


async def test_concurrent_writers_of_different_fields_of_one_document_lose_nothing(
    mongo_db: AsyncDatabase[Any], second_client: AsyncMongoClient[Any]
) -> None:
    gateway = mongo_db.discussions
    normalizer = second_client[mongo_db.name].discussions
    await gateway.insert_one({"_id": "d-1", "tags": [], "message_ids": []})

    async def gateway_writes() -> None:
        for i in range(WRITES):
            await gateway.find_one_and_update(
                {"_id": "d-1"}, {"$push": {"tags": f"t{i}"}}, return_document=ReturnDocument.AFTER
            )

    async def normalizer_writes() -> None:
        for i in range(WRITES):
            await normalizer.bulk_write(
                [UpdateOne({"_id": "d-1"}, {"$push": {"message_ids": f"m{i}"}})], ordered=False
            )

    await asyncio.gather(gateway_writes(), normalizer_writes())

    stored = await gateway.find_one({"_id": "d-1"})
    assert stored is not None
    assert stored["tags"] == [f"t{i}" for i in range(WRITES)]
    assert stored["message_ids"] == [f"m{i}" for i in range(WRITES)]


async def test_exactly_one_concurrent_claimant_wins_a_conditional_update(
    mongo_db: AsyncDatabase[Any], second_client: AsyncMongoClient[Any]
) -> None:
    collections = [mongo_db.claims, second_client[mongo_db.name].claims]
    rounds, claimants = 20, 6
    for round_ in range(rounds):
        key = f"lease-{round_}"
        await mongo_db.claims.insert_one({"_id": key, "holder": None})

        async def claim(n: int, key: str = key) -> bool:
            result = await collections[n % 2].update_one(
                {"_id": key, "holder": None}, {"$set": {"holder": f"c{n}-{uuid.uuid4().hex}"}}
            )
            return result.modified_count == 1

        won = await asyncio.gather(*(claim(n) for n in range(claimants)))
        assert sum(won) == 1, f"round {round_}: {sum(won)} claimants won"
