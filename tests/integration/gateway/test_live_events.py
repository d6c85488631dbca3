"""GET /events/stream on a served gateway, fed by the real Kafka events topic.

The stream needs a real HTTP server (an in-process ASGI transport buffers a response
until it ends, and this one does not end): the app runs under uvicorn (the ``served``
fixture, :mod:`integration.gateway.serving`), with its real lifespan (MongoDB, Kafka
producer, the live events reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from integration.gateway.serving import Served

from parley_gateway.config import GatewaySettings
from parley_platform.kafka import KafkaPublisher
from parley_schemas import (
    CONVERSATION_EVENTS,
    MESSAGE_RECEIVED,
    Direction,
    Envelope,
    MessageReceived,
    Participant,
    ParticipantRole,
    utcnow,
)


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str
    data: str


@pytest.fixture(scope="module")
async def publisher(gateway_settings: GatewaySettings) -> AsyncIterator[KafkaPublisher]:
    producer = KafkaPublisher.from_settings(gateway_settings, "live-events-test")
    await producer.start()
    yield producer
    await producer.stop()


async def _key_for(served: Served, *stores: str) -> str:
    account, _ = await served.runtime.access.create_account(f"Live {stores[0]}", stores)
    return (await served.runtime.access.issue_key(account.id, name="live")).secret


async def _message_received(publisher: KafkaPublisher, store: str, text: str) -> str:
    """Publishes a message.received event of ``store``; answers its CloudEvent id."""
    thread = uuid.uuid4().hex[:8]
    envelope = Envelope[MessageReceived](
        source="/test/live-events",
        type=MESSAGE_RECEIVED.name,
        subject=f"{store}:carrefour:{thread}",
        data=MessageReceived(
            discussion_id=f"d-{thread}",
            store_id=store,
            marketplace="carrefour",
            thread_id=thread,
            message_id=f"m-{thread}",
            direction=Direction.INBOUND,
            sender=Participant(role=ParticipantRole.CUSTOMER, name="Jan"),
            body=text,
            sent_at=utcnow(),
            read=False,
        ),
    )
    await publisher.publish(CONVERSATION_EVENTS, envelope)
    return envelope.id


async def _events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """A minimal SSE parser: fields until a blank line; comments skipped."""
    fields: dict[str, list[str]] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "event" in fields or "data" in fields:
                yield SseEvent(
                    id=fields.get("id", [None])[0],
                    event=fields.get("event", ["message"])[0],
                    data="\n".join(fields.get("data", [])),
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))


async def _next_event(events: AsyncIterator[SseEvent]) -> SseEvent:
    async with asyncio.timeout(20):
        return await anext(events)


@contextlib.asynccontextmanager
async def _stream(
    served: Served, key: str, last_event_id: str | None = None
) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[SseEvent]]]:
    headers = {"Authorization": f"Bearer {key}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
        client.stream("GET", "/events/stream", headers=headers) as response,
    ):
        yield response, _events(response)


async def test_a_callers_stream_carries_its_stores_events_only(
    served: Served, publisher: KafkaPublisher
) -> None:
    mine, theirs = f"store-{uuid.uuid4().hex[:8]}", f"store-{uuid.uuid4().hex[:8]}"
    key = await _key_for(served, mine)
    async with _stream(served, key) as (response, events):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await _message_received(publisher, theirs, "not for you")
        sent = await _message_received(publisher, mine, "hello from the buyer")
        event = await _next_event(events)
    assert event.event == MESSAGE_RECEIVED.name
    cloudevent = json.loads(event.data)
    assert cloudevent["id"] == sent
    assert cloudevent["subject"].startswith(f"{mine}:")
    assert event.id is not None


async def test_last_event_id_resumes_after_the_last_event_seen(
    served: Served, publisher: KafkaPublisher
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    key = await _key_for(served, store)
    async with _stream(served, key) as (_, events):
        await _message_received(publisher, store, "first")
        first = await _next_event(events)
    # Published while the client is away: it gets it on reconnecting, and only it.
    missed = await _message_received(publisher, store, "while away")
    async with _stream(served, key, last_event_id=first.id) as (_, events):
        resumed = await _next_event(events)
        assert json.loads(resumed.data)["id"] == missed
        later = await _message_received(publisher, store, "after")
        assert json.loads((await _next_event(events)).data)["id"] == later


async def test_a_malformed_last_event_id_is_a_400_problem(served: Served) -> None:
    key = await _key_for(served, f"store-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        response = await client.get(
            "/events/stream",
            headers={"Authorization": f"Bearer {key}", "Last-Event-ID": "not-a-position"},
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_stream_needs_an_api_key(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        response = await client.get("/events/stream")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
