"""Barriers for tests that prove something did *not* happen, instead of fixed sleeps.

Once the normalizer and the responder have committed every record now on the
topics they read, each record was processed: whatever it could have caused (an
event, a reply accepted into the outbox, an autoresponse and its shop copy) has
happened. Checked in pipeline order, with end offsets read afresh, so records the
normalizer published while the check ran are waited for as well.
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
from support.kafka import caught_up


async def pipeline_caught_up(env: Mapping[str, str]) -> bool:
    """True once the normalizer, then the responder, processed all there is so far.

    ``env`` is what the services were started with (ServiceGroup.env): their topic
    prefix and consumer groups (the Faust app ids).
    """
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    prefix = env["KAFKA_TOPIC_PREFIX"]
    normalized = await caught_up(
        bootstrap,
        env["NORMALIZER_APP_ID"],
        [prefix + t.name for t in (MARKETPLACE_RAW, DELIVERY_RESULTS, ORDER_ALERTS)],
    )
    return normalized and await caught_up(
        bootstrap,
        env["RESPONDER_APP_ID"],
        [prefix + t.name for t in (CONVERSATION_COMMANDS, CONVERSATION_EVENTS)],
    )
