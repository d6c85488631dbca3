"""The live feed behind GET /events/stream: fan-out by store, resuming from a position,
an honest ``reset`` when events were missed, and bounds (slow clients, open streams).
CORS settings: exact origins only, off by default."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError
from unit.gateway.fakes import InMemoryDiscussions, RecordingPublisher, fake_bootstrap

from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import Scope
from parley_gateway.live import (
    FeedPosition,
    InvalidPosition,
    LiveEvent,
    LiveFeed,
    Reset,
    Subscription,
    TooManyStreams,
    store_of,
)
from parley_gateway.service import DiscussionService


def _record(store: str, n: int, type_: str = "com.parley.message.received.v1") -> bytes:
    return json.dumps(
        {
            "id": f"ev-{store}-{n}",
            "type": type_,
            "subject": f"{store}:carrefour:t{n}",
            "data": {"store_id": store, "n": n},
        }
    ).encode()


def _drain(queue_items: list[LiveEvent | Reset | None]) -> list[str]:
    out = []
    for item in queue_items:
        if isinstance(item, LiveEvent):
            out.append(json.loads(item.body)["id"])
        elif isinstance(item, Reset):
            out.append("reset")
        else:
            out.append("end")
    return out


def _items(subscription: Subscription) -> list[LiveEvent | Reset | None]:
    items = []
    while not subscription.queue.empty():
        items.append(subscription.queue.get_nowait())
    return items


def test_each_stream_gets_its_stores_events_in_order() -> None:
    feed = LiveFeed()
    feed.start_at({0: 0, 1: 0})
    mine = feed.subscribe(Scope.of(["a"]))
    everyone = feed.subscribe(Scope.all_stores())
    feed.add(0, 0, _record("a", 1))
    feed.add(1, 0, _record("b", 2))
    feed.add(0, 1, _record("a", 3))
    assert _drain(_items(mine)) == ["ev-a-1", "ev-a-3"]
    assert _drain(_items(everyone)) == ["ev-a-1", "ev-b-2", "ev-a-3"]


def test_an_events_id_is_the_position_after_it() -> None:
    feed = LiveFeed()
    feed.start_at({0: 5, 1: 9})
    event = feed.add(1, 9, _record("a", 1))
    assert event is not None
    assert event.position == "0.5_1.10"
    assert FeedPosition.parse(event.position).offsets == {0: 5, 1: 10}


def test_resuming_replays_what_came_after_the_last_event_seen() -> None:
    feed = LiveFeed()
    feed.start_at({0: 0, 1: 0})
    seen = feed.add(0, 0, _record("a", 1))
    feed.add(1, 0, _record("a", 2))
    feed.add(0, 1, _record("b", 3))
    feed.add(0, 2, _record("a", 4))
    assert seen is not None
    resumed = feed.subscribe(Scope.of(["a"]), FeedPosition.parse(seen.position))
    assert _drain(_items(resumed)) == ["ev-a-2", "ev-a-4"]
    feed.add(1, 1, _record("a", 5))
    assert _drain(_items(resumed)) == ["ev-a-5"]


def test_a_position_older_than_the_buffer_gets_a_reset_then_follows() -> None:
    feed = LiveFeed(buffer_size=2)
    feed.start_at({0: 0})
    first = feed.add(0, 0, _record("a", 1))
    for n in range(1, 4):
        feed.add(0, n, _record("a", n + 1))
    assert first is not None
    resumed = feed.subscribe(Scope.of(["a"]), FeedPosition.parse(first.position))
    assert _drain(_items(resumed)) == ["reset"]
    feed.add(0, 4, _record("a", 9))
    assert _drain(_items(resumed)) == ["ev-a-9"]


def test_a_position_from_before_this_instance_started_gets_a_reset() -> None:
    feed = LiveFeed()
    feed.start_at({0: 100})
    resumed = feed.subscribe(Scope.all_stores(), FeedPosition({0: 40}))
    assert _drain(_items(resumed)) == ["reset"]


def test_events_a_client_saw_on_an_instance_ahead_are_not_sent_again() -> None:
    feed = LiveFeed()
    feed.start_at({0: 0})
    resumed = feed.subscribe(Scope.all_stores(), FeedPosition({0: 2}))
    feed.add(0, 0, _record("a", 1))
    feed.add(0, 1, _record("a", 2))
    feed.add(0, 2, _record("a", 3))
    assert _drain(_items(resumed)) == ["ev-a-3"]


def test_a_client_that_does_not_keep_up_is_ended_not_buffered() -> None:
    feed = LiveFeed(queue_size=2)
    feed.start_at({0: 0})
    slow = feed.subscribe(Scope.all_stores())
    for n in range(5):
        feed.add(0, n, _record("a", n))
    assert _drain(_items(slow)) == ["ev-a-0", "ev-a-1", "end"]
    assert feed.subscribers == 0


def test_streams_are_bounded_and_closing_the_feed_ends_them() -> None:
    feed = LiveFeed(max_subscribers=1)
    feed.start_at({0: 0})
    first = feed.subscribe(Scope.all_stores())
    with pytest.raises(TooManyStreams):
        feed.subscribe(Scope.all_stores())
    feed.unsubscribe(first)
    second = feed.subscribe(Scope.all_stores())
    feed.close()
    assert _drain(_items(second)) == ["end"]


def test_records_without_a_store_or_not_json_are_skipped_but_counted() -> None:
    feed = LiveFeed()
    feed.start_at({0: 0})
    everyone = feed.subscribe(Scope.all_stores())
    assert feed.add(0, 0, b"not json") is None
    assert feed.add(0, 1, json.dumps({"id": "x", "subject": "k"}).encode()) is None
    feed.add(0, 2, _record("a", 1))
    assert _drain(_items(everyone)) == ["ev-a-1"]
    assert feed.position.offsets == {0: 3}


def test_the_store_comes_from_the_data_or_the_discussion_key() -> None:
    assert store_of({"subject": "s1:amazon_fr:t", "data": {}}) == "s1"
    assert store_of({"subject": "conn-1", "data": {"store_id": "s2"}}) == "s2"
    assert store_of({"subject": "conn-1", "data": {}}) is None


@pytest.mark.parametrize("token", ["", "abc", "0.1_", "0.-1", "1.2.3", "0.1;1.2"])
def test_malformed_positions_are_refused(token: str) -> None:
    with pytest.raises(InvalidPosition):
        FeedPosition.parse(token)


# ---------------------------------------------------------------- CORS


@asynccontextmanager
async def _app(origins: list[str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(gateway_cors_origins=origins or [])
    service = DiscussionService(InMemoryDiscussions(), RecordingPublisher())
    app = create_app(settings, bootstrap=fake_bootstrap(service))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield client


async def test_cors_is_off_by_default() -> None:
    async with _app() as client:
        response = await client.options(
            "/discussions",
            headers={"Origin": "https://inbox.example", "Access-Control-Request-Method": "GET"},
        )
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_the_listed_origins_only() -> None:
    async with _app(["https://inbox.example"]) as client:
        allowed = await client.options(
            "/discussions",
            headers={
                "Origin": "https://inbox.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
        other = await client.options(
            "/discussions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        unauthenticated = await client.get(
            "/discussions", headers={"Origin": "https://inbox.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://inbox.example"
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    # An error is readable by the allowed page too (problem+json with the CORS header).
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["access-control-allow-origin"] == "https://inbox.example"


@pytest.mark.parametrize("origin", ["*", "https://inbox.example/path", "inbox.example", ""])
def test_cors_origins_must_be_exact(origin: str) -> None:
    with pytest.raises(ValidationError, match="GATEWAY_CORS_ORIGINS"):
        GatewaySettings(gateway_cors_origins=[origin])
