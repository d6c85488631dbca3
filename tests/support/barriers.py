"""Barriers for tests that prove something did *not* happen, instead of fixed sleeps.

Once the normalizer and the responder have committed every record that was on the
topics they read when the barrier began, each was processed: whatever it could have
caused (an event, a reply accepted into the outbox, an autoresponse and its shop copy)
has happened. Checked in pipeline order: the responder's topics are read once the
normalizer caught up, so what the normalizer published meanwhile is waited for too.

The ends are fixed when each stage's wait begins, not read afresh at every check: in
the end-to-end system every activated connection polls every 2 s and publishes its
latest snapshot again, so a moving end is met only by luck (a consumer commits every
few seconds), and a barrier that chased it timed out in CI.
"""

from __future__ import annotations

from collections.abc import Mapping

from parley_schemas import (
    CONVERSATION_COMMANDS,
    CONVERSATION_EVENTS,
    DELIVERY_RESULTS,
    MARKETPLACE_RAW,
    ORDER_ALERTS,
)
from support.kafka import committed_up_to, end_offsets
from support.waiting import eventually


async def stage_caught_up(bootstrap: str, group: str, topics: list[str], *, timeout: float) -> None:
    """Waits until ``group`` processed every record now on ``topics``."""
    ends = await end_offsets(bootstrap, topics)

    async def processed() -> bool:
        return await committed_up_to(bootstrap, group, ends)

    await eventually(processed, timeout=timeout)


async def pipeline_settled(env: Mapping[str, str], *, timeout: float = 60.0) -> None:
    """Waits until the normalizer, then the responder, processed all there is so far.

    ``env`` is what the services were started with (ServiceGroup.env): their topic
    prefix and consumer groups (the Faust app ids). ``timeout`` bounds each stage.
    """
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = env["KAFKA_TOPIC_PREFIX"]
    await stage_caught_up(
        bootstrap,
        env["NORMALIZER_APP_ID"],
        [prefix + t.name for t in (MARKETPLACE_RAW, DELIVERY_RESULTS, ORDER_ALERTS)],
        timeout=timeout,
    )
    await stage_caught_up(
        bootstrap,
        env["RESPONDER_APP_ID"],
        [prefix + t.name for t in (CONVERSATION_COMMANDS, CONVERSATION_EVENTS)],
        timeout=timeout,
    )
