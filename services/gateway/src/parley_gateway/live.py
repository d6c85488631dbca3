"""Live conversation events for UIs: one feed per gateway, fanned out per caller.

A web inbox must show a new buyer message, a delivery turning ``sent`` or a colleague's
status change without polling. The conversation events topic already says all of it,
so the gateway reads that topic once (no consumer group: every instance sees every
event, from the end) and hands each event to the streams of the callers whose stores
it concerns (``GET /events/stream``, server-sent events).

Resuming: each event's SSE id is the feed's *position* after it, the next Kafka
offset of every partition (``0.124_1.57``). A client that reconnects with
``Last-Event-ID`` gets the buffered events past that position, on whichever gateway
instance it lands, since offsets are the broker's, not an instance's. When the
position is older than what the instance still holds (or the instance started after
it), the missed events cannot be told; the stream then starts with a ``reset`` event
and the client reloads what it shows: never a silent gap.

A subscriber that does not keep up (its queue is full) is closed rather than
buffering without bound; its client reconnects and resumes from its last id.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from parley_gateway.domain import Scope

_POSITION: Final = re.compile(r"^\d{1,5}\.\d{1,19}(_\d{1,5}\.\d{1,19}){0,255}$")


class InvalidPosition(ValueError):
    """A ``Last-Event-ID`` this feed never gave out."""


class TooManyStreams(RuntimeError):
    """The instance already serves as many live streams as it is configured for."""


@dataclass(frozen=True)
class FeedPosition:
    """The next offset to read, per partition of the events topic."""

    offsets: Mapping[int, int]

    def token(self) -> str:
        return "_".join(f"{p}.{o}" for p, o in sorted(self.offsets.items()))

    @classmethod
    def parse(cls, token: str) -> FeedPosition:
        if not _POSITION.match(token):
            raise InvalidPosition("Last-Event-ID is not a position this stream gave out")
        pairs = (part.split(".") for part in token.split("_"))
        return cls({int(p): int(o) for p, o in pairs})


@dataclass(frozen=True)
class LiveEvent:
    """One record of the events topic, as a stream sends it."""

    partition: int
    offset: int
    store_id: str
    type: str
    # The CloudEvent as published (JSON): what the API's consumers already know.
    body: str
    # The feed's position once this event is read: its SSE id.
    position: str


@dataclass(frozen=True)
class Reset:
    """Events were missed since the client's position: reload, then follow."""

    reason: str


def store_of(cloudevent: Mapping[str, object]) -> str | None:
    """The store an event concerns: its ``store_id``, else its subject's first segment.

    Discussion events carry the discussion key ``store:marketplace:thread`` as subject;
    other events (a connection's health) name the store in their data.
    """
    data = cloudevent.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("store_id"), str):
        return str(data["store_id"])
    subject = cloudevent.get("subject")
    if isinstance(subject, str) and subject.count(":") >= 2:
        return subject.split(":", 1)[0]
    return None


@dataclass(eq=False)
class Subscription:
    """One caller's stream: the events of its stores, in feed order."""

    stores: frozenset[str] | None
    queue: asyncio.Queue[LiveEvent | Reset | None]
    # Offsets the client has already seen (from another instance ahead of this one).
    seen: Mapping[int, int] = field(default_factory=dict)
    closed: bool = False

    def wants(self, event: LiveEvent) -> bool:
        if event.offset < self.seen.get(event.partition, 0):
            return False
        return self.stores is None or event.store_id in self.stores


@dataclass
class LiveFeed:
    """The gateway's copy of the recent event stream and its live subscribers."""

    buffer_size: int = 10_000
    queue_size: int = 1_000
    max_subscribers: int = 200
    _buffer: deque[LiveEvent] = field(init=False)
    _next: dict[int, int] = field(default_factory=dict, init=False)
    # Per partition, the first offset the buffer still covers: where this instance
    # started reading, moved on as old events leave the buffer.
    _covered_from: dict[int, int] = field(default_factory=dict, init=False)
    _subscribers: set[Subscription] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._buffer = deque()

    def start_at(self, offsets: Mapping[int, int]) -> None:
        """Where the feed's reader starts: the end of each partition at start-up."""
        for partition, offset in offsets.items():
            self._next.setdefault(partition, offset)
            self._covered_from.setdefault(partition, offset)

    @property
    def position(self) -> FeedPosition:
        return FeedPosition(dict(self._next))

    def add(self, partition: int, offset: int, value: bytes) -> LiveEvent | None:
        """One record read from the topic; not JSON or no store: skipped (the
        dead-letter topic is where malformed records are dealt with)."""
        self._covered_from.setdefault(partition, offset)
        self._next[partition] = offset + 1
        try:
            cloudevent = json.loads(value)
        except ValueError:
            return None
        if not isinstance(cloudevent, dict):
            return None
        store = store_of(cloudevent)
        if store is None:
            return None
        event = LiveEvent(
            partition=partition,
            offset=offset,
            store_id=store,
            type=str(cloudevent.get("type", "")),
            body=value.decode("utf-8", errors="replace"),
            position=self.position.token(),
        )
        if len(self._buffer) == self.buffer_size:
            evicted = self._buffer.popleft()
            self._covered_from[evicted.partition] = evicted.offset + 1
        self._buffer.append(event)
        for subscription in list(self._subscribers):
            if subscription.wants(event):
                self._offer(subscription, event)
        return event

    def subscribe(self, scope: Scope, since: FeedPosition | None = None) -> Subscription:
        """A new stream for ``scope``'s stores; from now, or replaying from ``since``."""
        if len(self._subscribers) >= self.max_subscribers:
            raise TooManyStreams(f"this instance serves {self.max_subscribers} live streams")
        subscription = Subscription(
            scope.store_ids,
            asyncio.Queue(self.queue_size + 1),
            seen=dict(since.offsets) if since is not None else {},
        )
        if since is not None:
            gap = self._gap(since)
            if gap is not None:
                subscription.queue.put_nowait(Reset(gap))
            else:
                for event in self._buffer:
                    if subscription.wants(event):
                        self._offer(subscription, event)
        if not subscription.closed:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """The feed stops (shutdown): every stream ends, its client reconnects."""
        for subscription in list(self._subscribers):
            self._end(subscription)

    def _gap(self, since: FeedPosition) -> str | None:
        """Why events between ``since`` and now cannot be replayed, if they cannot."""
        for partition, covered_from in self._covered_from.items():
            if since.offsets.get(partition, 0) < covered_from:
                return "events since Last-Event-ID are no longer held: reload, then follow"
        return None

    def _offer(self, subscription: Subscription, event: LiveEvent) -> None:
        if subscription.closed:
            return
        if subscription.queue.qsize() >= self.queue_size:
            # Too slow: end the stream; the client resumes from its last id.
            self._end(subscription)
            return
        subscription.queue.put_nowait(event)

    def _end(self, subscription: Subscription) -> None:
        subscription.closed = True
        self._subscribers.discard(subscription)
        subscription.queue.put_nowait(None)
