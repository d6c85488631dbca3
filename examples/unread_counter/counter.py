"""A per-store count of unread discussions, kept from Parley's conversation events only.

A reference consumer for docs/events.md: plain aiokafka and the standard library, no
Parley code. It keeps, per discussion, its store and read state; a store's unread
count is the number of its discussions whose last known read state is false.

- ``discussion.created`` (read false) and ``message.received`` (read false: a new
  incoming message makes a discussion unread) mark it unread;
- the workflow events (``discussion.*_changed``) carry the read state after the
  change: a discussion opened, marked read or unread, a status set one by one or in
  bulk; ``message.sent`` (a reply) leaves it as it is (its ``read`` is null);
- ``discussion.deleted`` (retention) forgets it;
- every other type is skipped, and an event id seen before is skipped (at least once
  delivery: a re-published event keeps its id).

    python counter.py BOOTSTRAP [TOPIC_PREFIX]  # prints the counts as they change
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from typing import Any

EVENTS_TOPIC = "conversation.events.v1"
DELETED = "com.parley.discussion.deleted.v1"


class UnreadCounter:
    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._discussions: dict[str, tuple[str, bool]] = {}  # id -> (store, read)

    def apply(self, event: dict[str, Any]) -> bool:
        """Applies one CloudEvent (the JSON value of a record); False when skipped."""
        event_id = event.get("id")
        data = event.get("data")
        if not isinstance(event_id, str) or not isinstance(data, dict):
            return False
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        discussion_id = data.get("discussion_id")
        store_id = data.get("store_id")
        if not isinstance(discussion_id, str) or not isinstance(store_id, str):
            return False
        if event.get("type") == DELETED:
            self._discussions.pop(discussion_id, None)
            return True
        read = data.get("read")
        if isinstance(read, bool):
            self._discussions[discussion_id] = (store_id, read)
            return True
        return False

    def unread(self) -> dict[str, int]:
        """Unread discussions per store (stores with none are left out)."""
        return dict(Counter(store for store, read in self._discussions.values() if not read))


async def follow(
    bootstrap: str, prefix: str, counter: UnreadCounter, group_id: str | None = None
) -> None:
    """Reads the events topic from its beginning and applies each record, for ever."""
    from aiokafka import AIOKafkaConsumer  # the one third-party library

    consumer = AIOKafkaConsumer(
        prefix + EVENTS_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=group_id is not None,
    )
    await consumer.start()
    try:
        async for record in consumer:
            try:
                event = json.loads(record.value or b"")
            except ValueError:
                continue  # not a structured CloudEvent: not ours to read
            if isinstance(event, dict) and counter.apply(event):
                print(json.dumps(counter.unread(), sort_keys=True), flush=True)
    finally:
        await consumer.stop()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments:
        raise SystemExit(__doc__)
    asyncio.run(follow(arguments[0], arguments[1] if len(arguments) > 1 else "", UnreadCounter()))
