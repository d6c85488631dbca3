"""An autoresponse the marketplace took is announced once (by id); other results not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley_responder.announcements import AnnouncingResultSink
from parley_responder.domain.autoreply import auto_command_id
from parley_schemas import (
    AUTORESPONSE_SENT,
    DELIVERY_RESULT,
    DeliveryResult,
    DeliveryState,
    DiscussionKey,
    Envelope,
)

KEY = DiscussionKey(store_id="s1", marketplace="carrefour", thread_id="t1")
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


class Recording:
    def __init__(self) -> None:
        self.seen: list[Envelope[Any]] = []

    async def emit(self, envelope: Envelope[Any]) -> None:
        self.seen.append(envelope)

    async def publish(self, envelope: Envelope[Any]) -> None:
        self.seen.append(envelope)


def result(command_id: str, state: DeliveryState) -> Envelope[DeliveryResult]:
    return Envelope[DeliveryResult](
        source="/parley/responder",
        type=DELIVERY_RESULT.name,
        subject=str(KEY),
        data=DeliveryResult(
            command_id=command_id,
            discussion_id=KEY.discussion_id,
            store_id="s1",
            marketplace="carrefour",
            thread_id="t1",
            state=state,
            body="Thanks, we answer within a day",
            occurred_at=T0,
        ),
    )


async def test_only_a_sent_autoresponse_is_announced_with_a_stable_id() -> None:
    results, events = Recording(), Recording()
    sink = AnnouncingResultSink(results, events)
    auto = auto_command_id(KEY.discussion_id)

    await sink.emit(result(auto, DeliveryState.QUEUED))
    await sink.emit(result("merchant-reply", DeliveryState.SENT))
    await sink.emit(result(auto, DeliveryState.SENT))
    await sink.emit(result(auto, DeliveryState.SENT))  # announced again: same id

    assert len(results.seen) == 4
    first, again = events.seen
    assert first.type == AUTORESPONSE_SENT.name and first.subject == str(KEY)
    assert first.data.command_id == auto
    assert first.id == again.id
