"""The live feed's reader: the conversation events topic, from its end, no group.

No consumer group on purpose: every gateway instance must see every event (each serves
its own callers' streams) and none commits offsets (a restarted instance starts from
the end; clients resume through ``Last-Event-ID`` and a ``reset`` when it is too old).
The broker being away is not fatal: the reader retries with a bounded backoff while
the rest of the gateway goes on serving.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from parley_gateway.live import LiveFeed
from parley_platform.kafka_security import KafkaSecurity, kafka_client_options
from parley_platform.logging import get_logger

log = get_logger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class KafkaLiveEventsReader:
    """Feeds a :class:`LiveFeed` from one topic until cancelled."""

    def __init__(
        self,
        feed: LiveFeed,
        *,
        bootstrap_servers: str,
        topic: str,
        security: KafkaSecurity | None,
        client_id: str = "gateway-live",
    ) -> None:
        self._feed = feed
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._security = security
        self._client_id = client_id

    async def run(self) -> None:
        delay = 1.0
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("live events: Kafka unreachable, retrying", error=type(exc).__name__)
            except Exception as exc:  # the feed must outlive any one fault
                log.error("live events: reader failed, restarting", error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            **kafka_client_options(self._security),
        )
        await consumer.start()
        try:
            partitions = await self._partitions()
            assigned = [TopicPartition(self._topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            ends = await consumer.end_offsets(assigned)
            # Resume where this instance stopped if it read before (a broker outage),
            # else from the end: a live feed shows what happens from now on.
            known = self._feed.position.offsets
            for tp in assigned:
                consumer.seek(tp, known.get(tp.partition, ends[tp]))
            self._feed.start_at({tp.partition: ends[tp] for tp in assigned})
            log.info("live events: following", topic=self._topic, partitions=len(assigned))
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        if record.value is not None:
                            self._feed.add(tp.partition, record.offset, record.value)
        finally:
            await consumer.stop()

    async def _partitions(self) -> list[int]:
        """The topic's partitions (a consumer without a group only knows them once
        assigned, so the cluster is asked)."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            **kafka_client_options(self._security),
        )
        await admin.start()
        try:
            (described,) = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        partitions = [int(p["partition"]) for p in described.get("partitions", [])]
        if described.get("error_code") or not partitions:
            raise KafkaError(f"topic {self._topic} is not there (yet)")
        return partitions
