"""Publishing envelopes to Kafka: idempotent producer, trace headers, keys.

Producers run with ``enable_idempotence`` and ``acks=all`` so a retried send never
duplicates a record in the log; the key is always the envelope subject (the
discussion key) so one discussion's records stay in order.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from parley_schemas import (
    CLOUDEVENTS_CONTENT_TYPE,
    DEAD_LETTER,
    DEAD_LETTERS,
    DeadLetter,
    Envelope,
    Topic,
    utcnow,
)

from .tracing import inject_headers


def topic_names(prefix: str, *topics: Topic) -> dict[str, Topic]:
    """Kafka topic name (with the environment's prefix) → the contract it carries."""
    return {prefix + topic.name: topic for topic in topics}


def record_headers() -> list[tuple[str, bytes]]:
    return [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()), *inject_headers()]


class KafkaPublisher:
    """The one way services write to Kafka."""

    def __init__(self, bootstrap_servers: str, client_id: str, topic_prefix: str = "") -> None:
        self._prefix = topic_prefix
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        self._source = f"/parley/{client_id}"

    @property
    def source(self) -> str:
        return self._source

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: Topic, envelope: Envelope[Any]) -> None:
        """Waits for the broker's acknowledgement: callers commit only after this returns."""
        if envelope.type not in {rt.name for rt in topic.record_types}:
            raise ValueError(f"{envelope.type} does not belong on {topic.name}")
        await self._producer.send_and_wait(
            self._prefix + topic.name,
            value=envelope.to_json_bytes(),
            key=envelope.subject.encode(),
            headers=record_headers(),
        )

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
        letter = DeadLetter(
            stage=stage,
            reason=reason,
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
