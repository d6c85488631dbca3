"""P1: the normalizer's throughput through Kafka with 0, 10k, 100k messages stored.

Per level: a fresh database is pre-filled with that many messages, then

- baseline: an aiokafka consumer reads the same snapshots from a topic of its own and
  bulk-upserts discussions and messages by ``_id`` with no logic (decode, upsert,
  commit), into the same pre-filled collections (its documents are deleted after);
- normalizer: the real service process (``python -m parley_normalizer``) is started
  on the level's own topics, and once it holds its partitions (/ready) the snapshots
  are produced to its raw topic; the clock stops when every record is stored: the last
  message of each partition is found by ``_id`` (parley_store.inbound_message_id), and
  the group's committed offsets must reach the end too.

The pre-fill is the normalizer's own output: the documents the level-0 run stored are
cloned (fresh ids and thread ids, the references between them kept) and bulk-inserted,
so the shapes follow the normalizer as it changes. Ratio = normalizer time / baseline
time per level; and throughput at the largest level / throughput on an empty store.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from pymongo import UpdateOne

from bench.harness import (
    Context,
    committed_reached,
    create_topic,
    create_topics,
    new_consumer,
    producer,
    rss_bytes,
    wait_assigned,
    wait_until,
)
from bench.report import figure
from bench.stats import throughput
from parley_schemas import (
    MARKETPLACE_RAW,
    THREAD_SNAPSHOT,
    Envelope,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
    decode,
)

STORE = "bench-store"
MARKETPLACE = "carrefour"
MARKER = "bnch"  # in thread, message and customer ids: what a clone renames
# Collections of work in flight, not of stored messages: never cloned.
NOT_CLONED = {"pending_events"}
Progress = Callable[[str], None]


def snapshots(count: int, messages: int, *, start: int = 0, tag: str = "") -> list[Any]:
    """``count`` Mirakl-like thread snapshots of ``messages`` buyer messages each."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(start, start + count):
        thread = f"{MARKER}{tag}-t{i}"
        buyer = Participant(
            role=ParticipantRole.CUSTOMER, name=f"Buyer {i}", marketplace_id=f"{MARKER}{tag}-c{i}"
        )
        out.append(
            RawThreadSnapshot(
                connection_id="bench",
                store_id=STORE,
                marketplace=MARKETPLACE,
                family="mirakl",
                thread_id=thread,
                subject=f"Order {i}",
                entities=[RawEntity(type="MMP_ORDER", id=f"O-{i}-A", label=f"O-{i}")],
                participants=[buyer],
                messages=[
                    RawMessage(
                        marketplace_message_id=f"{thread}-m{j}",
                        sender=buyer,
                        body=f"message {j} of thread {i}: where is my parcel?",
                        sent_at=t0 + timedelta(minutes=i + j),
                    )
                    for j in range(messages)
                ],
                created_at=t0 + timedelta(minutes=i),
                updated_at=t0 + timedelta(minutes=i + messages),
                fetched_at=datetime.now(UTC),
            )
        )
    return out


def envelope_bytes(snapshot: Any) -> tuple[bytes, bytes]:
    env = Envelope[RawThreadSnapshot](
        source="/parley/bench", type=THREAD_SNAPSHOT.name, subject=str(snapshot.key), data=snapshot
    )
    return env.subject.encode(), env.to_json_bytes()


async def produce(ctx: Context, topic: str, records: list[tuple[bytes, bytes]]) -> list[Any]:
    """Sends every record; answers each one's metadata (partition, offset), in order."""
    async with producer(ctx) as prod:
        futures = [await prod.send(topic, value=v, key=k) for k, v in records]
        return list(await asyncio.gather(*futures))


def last_per_partition(metas: list[Any]) -> dict[int, tuple[int, int]]:
    """partition → (index of its last record, that record's offset)."""
    last: dict[int, tuple[int, int]] = {}
    for index, meta in enumerate(metas):
        if meta.partition not in last or meta.offset > last[meta.partition][1]:
            last[meta.partition] = (index, meta.offset)
    return last


# --------------------------------------------------------------------------- pre-fill


def _clone_id(value: str, generation: int) -> str:
    return hashlib.sha256(f"{value}/{generation}".encode()).hexdigest()[:32]


def clone(doc: Any, ids: Mapping[str, str], generation: int) -> Any:
    """``doc`` with every template id replaced by its clone and the marker renamed."""
    if isinstance(doc, dict):
        return {k: clone(v, ids, generation) for k, v in doc.items()}
    if isinstance(doc, list):
        return [clone(v, ids, generation) for v in doc]
    if isinstance(doc, str):
        if doc in ids:
            return ids[doc]
        if MARKER in doc:
            return doc.replace(MARKER, f"{MARKER}g{generation}x")
    return doc


async def read_template(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """Everything the normalizer stored (the level-0 run), per collection."""
    client = ctx.mongo()
    try:
        db = client[ctx.database]
        names = [n for n in await db.list_collection_names() if n not in NOT_CLONED]
        return {
            name: [doc async for doc in db[name].find({})]
            for name in names
            if not name.startswith("system.")
        }
    finally:
        await client.close()


async def prefill(ctx: Context, template: Mapping[str, list[dict[str, Any]]], messages: int) -> int:
    """Bulk-inserts clones of ``template`` until ``messages`` messages are stored."""
    per_generation = len(template.get("messages", []))
    if messages <= 0 or per_generation == 0:
        return 0
    generations = -(-messages // per_generation)
    client = ctx.mongo()
    inserted = 0
    try:
        db = client[ctx.database]
        template_ids = [str(d["_id"]) for docs in template.values() for d in docs]
        for g in range(generations):
            ids = {i: _clone_id(i, g) for i in template_ids}
            for name, docs in template.items():
                batch = [clone(d, ids, g) for d in docs]
                if name == "messages" and inserted + len(batch) > messages:
                    batch = batch[: messages - inserted]
                for i in range(0, len(batch), 1000):
                    await db[name].insert_many(batch[i : i + 1000], ordered=False)
                if name == "messages":
                    inserted += len(batch)
    finally:
        await client.close()
    return inserted


# --------------------------------------------------------------------------- runs


async def run_baseline(
    ctx: Context, topic: str, records: list[tuple[bytes, bytes]], within: float
) -> float | None:
    """aiokafka consumer → bulk upserts by _id (no logic) → commit; seconds until all
    (None: not within ``within`` seconds)."""
    consumer = new_consumer(ctx, topic, group=f"{topic}-baseline")
    await consumer.start()
    client = ctx.mongo()
    db = client[ctx.database]
    try:
        await wait_assigned(consumer)
        total = len(records)
        start = time.perf_counter()
        sending = asyncio.create_task(produce(ctx, topic, records))
        done = 0
        while done < total:
            if time.perf_counter() - start > within:
                break
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            discussions, messages = [], []
            for recs in batches.values():
                for rec in recs:
                    snap = decode(rec.value, MARKETPLACE_RAW).data
                    did = snap.key.discussion_id
                    discussions.append(
                        UpdateOne(
                            {"_id": did},
                            {
                                "$set": {
                                    "key": f"bench-baseline:{did}",
                                    "store_id": snap.store_id,
                                    "subject": snap.subject,
                                    "bench_baseline": True,
                                }
                            },
                            upsert=True,
                        )
                    )
                    messages += [
                        UpdateOne(
                            {"_id": f"baseline:{did}:{m.marketplace_message_id}"},
                            {
                                "$set": {
                                    "discussion_id": did,
                                    "body": m.body,
                                    "sent_at": m.sent_at,
                                    "bench_baseline": True,
                                }
                            },
                            upsert=True,
                        )
                        for m in snap.messages
                    ]
                    done += 1
            if discussions:
                await db.discussions.bulk_write(discussions, ordered=False)
            if messages:
                await db.messages.bulk_write(messages, ordered=False)
            if batches:
                await consumer.commit()
        elapsed = time.perf_counter() - start if done == total else None
        await sending
        await db.discussions.delete_many({"bench_baseline": True})
        await db.messages.delete_many({"bench_baseline": True})
        return elapsed
    finally:
        await consumer.stop()
        await client.close()


def last_message_ids(last: Mapping[int, tuple[int, int]], snaps: list[Any]) -> list[str]:
    """The ``_id`` of the last message of each partition's last snapshot."""
    from parley_store import inbound_message_id

    ids = []
    for index, _ in last.values():
        snap = snaps[index]
        if snap.messages:
            ids.append(
                inbound_message_id(snap.key.discussion_id, snap.messages[-1].marketplace_message_id)
            )
    return ids


async def run_normalizer(
    ctx: Context,
    level_name: str,
    snaps: list[Any],
    records: list[tuple[bytes, bytes]],
    within: float,
    progress: Progress,
) -> dict[str, Any]:
    prefix = ctx.prefix(f"p1-{level_name}")
    await create_topics(ctx, prefix)
    group = ctx.group(prefix)
    try:
        progress(f"P1 {level_name}: starting the normalizer")
        group.start("normalizer", "parley_normalizer")
        group.wait_healthy(["normalizer"])
        await wait_until(f"http://127.0.0.1:{group.ports.normalizer}/ready")
        topic = prefix + MARKETPLACE_RAW.name
        client = ctx.mongo()
        messages = client[ctx.database].messages
        progress(f"P1 {level_name}: normalizing {len(records)} snapshots")
        start = time.perf_counter()
        last = last_per_partition(await produce(ctx, topic, records))
        produced = time.perf_counter() - start
        probes = last_message_ids(last, snaps)
        ends = {TopicPartition(topic, p): offset + 1 for p, (_, offset) in last.items()}
        group_id = group.env["NORMALIZER_APP_ID"]
        stored_at = committed_at = None
        next_offsets_check = 0.0
        while stored_at is None or committed_at is None:
            now = time.perf_counter()
            if now - start > within:
                break
            if committed_at is not None and now - committed_at > 5.0:
                break  # committed, yet the probes never found their ids: see timed_by
            if stored_at is None:
                found = 0
                for probe in probes:
                    if await messages.find_one({"_id": probe}, {"_id": 1}) is None:
                        break
                    found += 1
                if found == len(probes):
                    stored_at = time.perf_counter()
            if committed_at is None and now >= next_offsets_check:
                next_offsets_check = now + 0.5
                if await committed_reached(ctx, group_id, ends):
                    committed_at = time.perf_counter()
            await asyncio.sleep(0.02)
        rss = rss_bytes(group.processes["normalizer"].pid)
        await client.close()
        # The probes time it; should the message ids ever stop being derived as the
        # probes derive them, the committed offsets (up to ~1 s late) time it instead.
        done_at = stored_at if stored_at is not None else committed_at
        return {
            "seconds": None if done_at is None else done_at - start,
            "timed_by": "_id probes" if stored_at is not None else "committed offsets",
            "committed_seconds": None if committed_at is None else committed_at - start,
            "produce_seconds": produced,
            "timed_out": done_at is None,
            "rss_bytes": rss,
        }
    finally:
        group.stop_all()


async def run(
    ctx: Context,
    levels: list[int],
    records: int,
    messages: int,
    longest_wait_s: float,
    progress: Progress,
) -> dict[str, Any]:
    phase: dict[str, Any] = {
        "title": "normalizer throughput through Kafka",
        "measures": "snapshots (thread records) per second from the raw topic into MongoDB by "
        "the real normalizer process, with messages already stored; "
        f"{records} snapshots x {messages} messages per level",
        "baseline": "an aiokafka consumer of the same records bulk-upserting them by _id with "
        "no logic (same database, same pre-fill); ratio = normalizer time / baseline time",
        "figures": [],
        "notes": [],
        "levels": {},
    }
    levels = sorted(set(levels))
    if levels[0] != 0:
        levels = [0, *levels]
    template: dict[str, list[dict[str, Any]]] = {}
    rss_after: int | None = None
    throughputs: dict[int, float | None] = {}
    for level in levels:
        name = f"{level // 1000}k" if level >= 1000 else str(level)
        if phase["levels"] and any(v["timed_out"] for v in phase["levels"].values()):
            phase["notes"].append(f"{name}: skipped, a smaller level timed out already")
            continue
        await ctx.fresh_database()
        stored = 0
        if level:
            progress(f"P1 {name}: pre-filling {level} messages")
            t = time.perf_counter()
            stored = await prefill(ctx, template, level)
            phase["notes"].append(
                f"pre-fill {name}: {stored} messages (+ their discussions and customers) "
                f"in {time.perf_counter() - t:.1f} s"
            )
        snaps = snapshots(records, messages, tag=f"l{level}")
        recs = [envelope_bytes(s) for s in snaps]
        progress(f"P1 {name}: baseline")
        base_topic = f"bench.{ctx.run_id}.p1-{name}.baseline"
        await create_topic(ctx, base_topic, MARKETPLACE_RAW.partitions)
        baseline = await run_baseline(ctx, base_topic, recs, longest_wait_s)
        if baseline is None:
            phase["notes"].append(
                f"{name}: the baseline had not stored every record after {longest_wait_s:.0f} s"
            )
        timeout = min(max(120.0, 40 * (baseline or longest_wait_s)), longest_wait_s)
        result = await run_normalizer(ctx, name, snaps, recs, timeout, progress)
        seconds = result["seconds"]
        if seconds is None:
            phase["notes"].append(
                f"{name}: the normalizer had not stored every record after {timeout:.0f} s "
                "(timed out): figures for this level are missing"
            )
        throughputs[level] = throughput(records, seconds) if seconds else None
        phase["levels"][name] = {**result, "baseline_seconds": baseline, "prefilled": stored}
        phase["figures"].append(
            figure(
                "time to store all records",
                seconds,
                baseline,
                "s",
                group=f"{name} stored",
                target_max=1.5,
                records_per_s=throughputs[level],
                baseline_records_per_s=throughput(records, baseline) if baseline else None,
                messages_per_s=throughput(records * messages, seconds) if seconds else None,
            )
        )
        if result["rss_bytes"]:
            rss_after = result["rss_bytes"]
        if level == 0:
            template = await read_template(ctx)
    top = levels[-1]
    if top and throughputs.get(0) and throughputs.get(top):
        phase["figures"].append(
            figure(
                f"throughput with {top:,} stored / empty",
                throughputs[top],
                throughputs[0],
                "records/s",
                group="scaling",
                target_min=0.8,
            )
        )
    phase["rss_after_bytes"] = rss_after
    phase["template"] = template  # for P3; not written to the results
    await ctx.fresh_database()
    return phase


async def normalizer_template(ctx: Context, progress: Progress) -> dict[str, list[dict[str, Any]]]:
    """What the normalizer stores for a few snapshots (for phases run without P1)."""
    await ctx.fresh_database()
    snaps = snapshots(6, 3, tag="tpl")
    result = await run_normalizer(
        ctx, "tpl", snaps, [envelope_bytes(s) for s in snaps], 120.0, progress
    )
    if result["seconds"] is None:
        raise RuntimeError("the normalizer did not store the template snapshots within 120 s")
    return await read_template(ctx)
