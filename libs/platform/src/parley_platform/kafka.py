"""Publishing envelopes to Kafka: idempotent producer, trace headers, keys.

Producers run with ``enable_idempotence`` and ``acks=all`` so a retried send never
duplicates a record in the log; the key is always the envelope subject (the
discussion key) so one discussion's records stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from parley_schemas import (
    CLOUDEVENTS_CONTENT_TYPE,
    DEAD_LETTER,
    DEAD_LETTERS,
    DeadLetter,
    Envelope,
    Topic,
    utcnow,
)

from .kafka_security import KafkaSecurity, kafka_client_options
from .logging import mask_secrets
from .settings import ServiceSettings
from .tracing import inject_headers


def topic_names(prefix: str, *topics: Topic) -> dict[str, Topic]:
    """Kafka topic name (with the environment's prefix) → the contract it carries."""
    return {prefix + topic.name: topic for topic in topics}


def record_headers() -> list[tuple[str, bytes]]:
    return [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()), *inject_headers()]


# Errors after which an idempotent producer cannot send again.
PRODUCER_STATE_LOST = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


class KafkaPublisher:
    """The one way services write to Kafka."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        topic_prefix: str = "",
        *,
        request_timeout_ms: int = 30000,
        security: KafkaSecurity | None = None,
    ) -> None:
        """``request_timeout_ms`` bounds metadata waits and each record's delivery: a
        record the broker has not acknowledged by then fails and leaves the buffer, so
        it can never be published long after its caller was told it failed.
        ``security``: how to reach the cluster (``KafkaSecurity.of(settings)``);
        PLAINTEXT when omitted."""
        self._security = security
        self._prefix = topic_prefix
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._request_timeout_ms = request_timeout_ms
        self._producer = self._new_producer()
        self._started = False
        self._stopped = False
        self._starting = asyncio.Lock()
        self._source = f"/parley/{client_id}"

    @classmethod
    def from_settings(cls, settings: ServiceSettings, client_id: str) -> KafkaPublisher:
        """The service's publisher: its cluster, topic prefix, request timeout and
        transport security (KAFKA_SECURITY_PROTOCOL, ...), all from its settings."""
        return cls(
            settings.kafka_bootstrap_servers,
            client_id,
            settings.kafka_topic_prefix,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            security=KafkaSecurity.of(settings),
        )

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=self._request_timeout_ms,
            **kafka_client_options(self._security),
        )

    @property
    def source(self) -> str:
        return self._source

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Connects to the cluster; after a failure (or a cancelled start) it can be
        called again: the half-started producer is closed and a fresh one made."""
        async with self._starting:
            if self._started:
                return
            try:
                await self._producer.start()
            except BaseException:
                failed, self._producer = self._producer, self._new_producer()
                await failed.stop()
                raise
            self._started = True

    async def warm_up(self, *topics: Topic) -> None:
        """Starts the producer and learns the topics' partitions now, so the first
        record a service publishes after a start does not wait for that metadata."""
        if not self._started:
            await self.start()
        for topic in topics:
            await self._producer.partitions_for(self._prefix + topic.name)

    async def stop(self) -> None:
        """Final: a stopped publisher is never started again by :meth:`publish`."""
        self._stopped = True
        await self._producer.stop()

    async def publish(self, topic: Topic, *envelopes: Envelope[Any]) -> None:
        """Waits for the broker's acknowledgement of every envelope: callers commit only
        after this returns.

        Several envelopes are handed to the producer in order and acknowledged
        together: one round trip for all, where one send each would wait for its own
        acknowledgement (and the producer's linger) in turn. Order is kept, since the
        idempotent producer never reorders a partition's records. A publisher whose
        start failed (broker down at start-up) starts here.
        """
        names = {rt.name for rt in topic.record_types}
        for envelope in envelopes:
            if envelope.type not in names:
                raise ValueError(f"{envelope.type} does not belong on {topic.name}")
        if not envelopes:
            return
        if not self._started and not self._stopped:
            await self.start()
        producer = self._producer
        try:
            sent = [
                await producer.send(
                    self._prefix + topic.name,
                    value=envelope.to_json_bytes(),
                    key=envelope.subject.encode(),
                    headers=record_headers(),
                )
                for envelope in envelopes
            ]
            await asyncio.gather(*sent)
        except PRODUCER_STATE_LOST:
            # The broker lost this producer's idempotence state (a restart of a single
            # broker, say): the producer can never send again. A fresh one (new producer
            # id) is made for the caller's retry; a record that did land is delivered
            # twice at most, which consumers drop by the envelope's id.
            await self._replace(producer)
            raise

    async def _replace(self, broken: AIOKafkaProducer) -> None:
        async with self._starting:
            if self._producer is not broken:  # another publish replaced it already
                return
            self._producer, self._started = self._new_producer(), False
        with contextlib.suppress(Exception):
            await broken.stop()

    async def dead_letter(
        self,
        stage: str,
        reason: str,
        *,
        subject: str = "unknown",
        source_topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
        value: bytes | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        # The reason is often an exception's text, which may quote a request URL and
        # its credentials: masked like a log line before it is published.
        letter = DeadLetter(
            stage=stage,
            reason=mask_secrets(reason),
            source_topic=source_topic,
            source_partition=partition,
            source_offset=offset,
            original_key=key.decode(errors="replace") if key is not None else None,
            original_value=value.decode(errors="replace") if value is not None else None,
            context=context or {},
            failed_at=utcnow(),
        )
        await self.publish(
            DEAD_LETTERS,
            Envelope[DeadLetter](
                source=self._source, type=DEAD_LETTER.name, subject=subject, data=letter
            ),
        )
