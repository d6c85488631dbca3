"""Benchmark: normalizing thread snapshots into MongoDB, against a baseline in the same run.

The baseline writes the same number of discussion and message documents with plain
PyMongo bulk upserts: the least work any normalizer must do on this server. The
result is reported as a ratio (normalizer time / baseline time), so it compares
across machines; absolute seconds are printed for context only.

    uv run python bench/bench_normalizer.py --threads 200

A quick in-process check (the handler and its store, no Kafka, no service process).
The suite's P1 (``make bench``, bench/p1_normalizer.py) measures the same thing through
Kafka with the real normalizer process and messages already stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from parley_normalizer.adapters.mongo_store import MongoDiscussionStore
from parley_normalizer.handlers import Normalizer
from parley_schemas import Envelope, Participant, ParticipantRole, RawMessage, RawThreadSnapshot
from parley_store import ensure_indexes


class NullSink:
    async def emit(self, envelope: Envelope[Any]) -> None:
        return None


def snapshots(store: str, threads: int, messages: int) -> list[RawThreadSnapshot]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        RawThreadSnapshot(
            connection_id="bench",
            store_id=store,
            marketplace="carrefour",
            family="mirakl",
            thread_id=f"t{i}",
            messages=[
                RawMessage(
                    marketplace_message_id=f"t{i}-m{j}",
                    sender=Participant(role=ParticipantRole.CUSTOMER, name="Buyer"),
                    body=f"message {j} of thread {i}",
                    sent_at=t0 + timedelta(minutes=j),
                )
                for j in range(messages)
            ],
            fetched_at=t0,
        )
        for i in range(threads)
    ]


async def run_normalizer(db: Any, snaps: list[RawThreadSnapshot]) -> float:
    normalizer = Normalizer(MongoDiscussionStore(db), NullSink())
    start = time.perf_counter()
    for snap in snaps:
        await normalizer.on_snapshot(snap)
    return time.perf_counter() - start


async def run_baseline(db: Any, snaps: list[RawThreadSnapshot]) -> float:
    start = time.perf_counter()
    for snap in snaps:
        did = snap.key.discussion_id
        await db.discussions.update_one(
            {"_id": did}, {"$set": {"key": str(snap.key), "store_id": snap.store_id}}, upsert=True
        )
        await db.messages.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{did}:{m.marketplace_message_id}"},
                    {"$setOnInsert": {"discussion_id": did, "body": m.body, "sent_at": m.sent_at}},
                    upsert=True,
                )
                for m in snap.messages
            ]
        )
    return time.perf_counter() - start


async def main(threads: int, messages: int, rounds: int) -> None:
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri, tz_aware=True)
    ratios = []
    for _ in range(rounds):
        names = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        try:
            base_db, norm_db = client[names[0]], client[names[1]]
            await ensure_indexes(base_db)
            await ensure_indexes(norm_db)
            snaps = snapshots("bench", threads, messages)
            baseline = await run_baseline(base_db, snaps)
            normalized = await run_normalizer(norm_db, snaps)
            ratios.append(normalized / baseline)
            print(f"baseline {baseline:.2f}s  normalizer {normalized:.2f}s  ratio {ratios[-1]:.2f}")
        finally:
            for name in names:
                await client.drop_database(name)
    print(f"normalizer/baseline ratio: median {statistics.median(ratios):.2f} over {rounds} rounds")
    await client.close()


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.threads, args.messages, args.rounds))
