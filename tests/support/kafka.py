"""Reading what services wrote to Kafka, from the moment a test starts."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from parley_schemas import Envelope, Topic, decode


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int

    def envelope(self) -> Envelope[Any]:
        return decode(self.value)


def session_topic_prefix() -> str:
    """The test session's topic prefix (tests/conftest.py): never `make run`'s topics."""
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    if not prefix:
        raise RuntimeError("KAFKA_TOPIC_PREFIX is empty: tests would use `make run`'s topics")
    return prefix


class TopicProbe:
    """Positions at the current end of a topic, then waits for matching records.

    Without ``prefix``, the session's topics (what settings read from the environment).
    """

    def __init__(self, bootstrap: str, topic: Topic | str, prefix: str | None = None) -> None:
        prefix = session_topic_prefix() if prefix is None else prefix
        self._topic = prefix + (topic if isinstance(topic, str) else topic.name)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            client_id=f"probe-{uuid.uuid4().hex[:6]}",
            enable_auto_commit=False,
        )
        self.seen: list[Record] = []

    async def __aenter__(self) -> TopicProbe:
        await self._consumer.start()
        cluster = await self._consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(self._topic) or set()
        if not partitions:
            await self._consumer.stop()
            raise RuntimeError(f"topic {self._topic} does not exist")
        tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        ends = await self._consumer.end_offsets(tps)
        for tp, offset in ends.items():
            self._consumer.seek(tp, offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def wait_for(
        self, match: Callable[[Record], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[Record]:
        async def collect() -> list[Record]:
            while True:
                found = [r for r in self.seen if match(r)]
                if len(found) >= count:
                    return found
                batch = await self._consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    for m in messages:
                        self.seen.append(
                            Record(m.key, m.value, dict(m.headers), m.partition, m.offset)
                        )

        return await asyncio.wait_for(collect(), timeout)

    async def drain(self, seconds: float = 2.0) -> list[Record]:
        """Everything that arrives within ``seconds``: to prove something did *not* happen."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            batch = await self._consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for m in messages:
                    self.seen.append(Record(m.key, m.value, dict(m.headers), m.partition, m.offset))
        return self.seen


def envelopes_of(records: list[Record], type_name: str) -> list[Envelope[Any]]:
    out = []
    for r in records:
        try:
            env = r.envelope()
        except ValueError:
            continue
        if env.type == type_name:
            out.append(env)
    return out


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics``, now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(cluster.partitions_for_topic(topic) or set())
        ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


async def committed_up_to(bootstrap: str, group: str, ends: dict[TopicPartition, int]) -> bool:
    """True once ``group`` committed up to ``ends`` (from :func:`end_offsets`) on every
    partition: each record there was then is processed. A partition the group never
    committed counts only while it was empty."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    for tp, end in ends.items():
        done = committed.get(tp)
        if (done.offset if done is not None else 0) < end:
            return False
    return True


async def caught_up(bootstrap: str, group: str, topics: list[str]) -> bool:
    """True once ``group`` committed every record now in ``topics``: each was processed.

    A barrier for tests that prove something did *not* happen: once the consumer has
    committed past the record that could have caused it, it would have happened. Only
    for topics nothing else writes to meanwhile: the end it compares with is read at
    each call, so under a steady flow (services that poll) it may never be met; use a
    fixed :func:`end_offsets` and :func:`committed_up_to` there.
    """
    return await committed_up_to(bootstrap, group, await end_offsets(bootstrap, topics))
