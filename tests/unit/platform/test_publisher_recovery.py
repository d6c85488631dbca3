"""The publisher recovers from a producer whose idempotence state the broker lost.

Seen in the reliability suite: after the only broker restarted, every send of the
normalizer's producer failed with OutOfOrderSequenceNumber, forever, and the stream
stalled. The producer is replaced, so the caller's retry goes through.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONVERSATION_EVENTS, DISCUSSION_CREATED, DiscussionCreated, Envelope


class ScriptedProducer:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.sent: list[bytes] = []
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, **record: Any) -> asyncio.Future[None]:
        """As aiokafka's: queued now, the broker's answer comes with the future."""
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            answer.set_exception(OutOfOrderSequenceNumber())
        else:
            self.sent.append(record["value"])
            answer.set_result(None)
        return answer


def created() -> Envelope[DiscussionCreated]:
    return Envelope[DiscussionCreated](
        source="/test",
        type=DISCUSSION_CREATED.name,
        subject="s1:carrefour:t1",
        data=DiscussionCreated(
            discussion_id="d1",
            store_id="s1",
            marketplace="carrefour",
            channel="default",
            thread_id="t1",
            type="order",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
        ),
    )


async def test_a_producer_that_lost_its_sequence_is_replaced_for_the_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken, fresh = ScriptedProducer(fail=True), ScriptedProducer(fail=False)
    made = iter([broken, fresh])
    monkeypatch.setattr(KafkaPublisher, "_new_producer", lambda self: next(made))
    publisher = KafkaPublisher("127.0.0.1:1", "test")
    with pytest.raises(OutOfOrderSequenceNumber):
        await publisher.publish(CONVERSATION_EVENTS, created())
    assert broken.stopped
    await publisher.publish(CONVERSATION_EVENTS, created())  # the caller's retry
    assert len(fresh.sent) == 1
