"""``GET /events/stream``: the caller's conversation events as server-sent events.

What a web inbox listens to so its list and open discussion follow without reload:
every event of the conversation events topic (the catalogue in docs/events.md) for the
caller's stores, as ``event: <CloudEvents type>``, ``id: <position>`` and the CloudEvent
JSON as ``data``. Reconnecting with ``Last-Event-ID`` resumes after that event; when
this instance no longer holds the events since then, the stream starts with an
``event: reset`` (reload what you show, then follow). A comment line every
``keepalive`` seconds keeps proxies from closing an idle stream.

Browsers' ``EventSource`` cannot send an API key header, so a UI reads this stream
with ``fetch`` and its ``Authorization`` header (the inbox does); any SSE client that
can set headers works the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from parley_gateway.api.dependencies import CallerScope
from parley_gateway.api.problems import PROBLEM_RESPONSES
from parley_gateway.bootstrap import Runtime
from parley_gateway.domain import Scope
from parley_gateway.live import (
    FeedPosition,
    InvalidPosition,
    LiveEvent,
    LiveFeed,
    Subscription,
    TooManyStreams,
)

LIVE_PATH = "/events/stream"
# The client waits this long before reconnecting after the stream ends.
RECONNECT_MS = 2000

router = APIRouter(tags=["events"])


def _feed(request: Request) -> LiveFeed:
    runtime: Runtime = request.app.state.runtime
    if runtime.live is None:
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, "live events are not enabled here")
    return runtime.live


@router.get(
    LIVE_PATH,
    summary="Follow the caller's conversation events (server-sent events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "An endless event stream; each event's id resumes after it",
        },
        400: PROBLEM_RESPONSES[400],
        401: PROBLEM_RESPONSES[401],
        503: PROBLEM_RESPONSES[503],
    },
)
async def stream_events(
    request: Request,
    scope: CallerScope,
    store_id: Annotated[
        list[str] | None, Query(description="Only these stores (of the caller's)")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    feed = _feed(request)
    since = None
    if last_event_id:
        try:
            since = FeedPosition.parse(last_event_id)
        except InvalidPosition as exc:
            raise HTTPException(HTTPStatus.BAD_REQUEST, str(exc)) from exc
    narrowed = Scope(scope.narrow(store_id or ()))
    try:
        subscription = feed.subscribe(narrowed, since)
    except TooManyStreams as exc:
        raise HTTPException(
            HTTPStatus.SERVICE_UNAVAILABLE,
            str(exc),
            headers={"Retry-After": str(RECONNECT_MS // 1000 * 5)},
        ) from exc
    keepalive = request.app.state.settings.gateway_live_keepalive_seconds
    return StreamingResponse(
        _sse(feed, subscription, keepalive),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(feed: LiveFeed, subscription: Subscription, keepalive: float) -> AsyncIterator[str]:
    """The stream's text, until the client leaves or the feed ends the subscription."""
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        while True:
            try:
                # A cancelled Queue.get loses nothing: the next call gets the item.
                item = await asyncio.wait_for(subscription.queue.get(), keepalive)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if item is None:
                return
            if isinstance(item, LiveEvent):
                data = "\n".join(f"data: {line}" for line in item.body.splitlines())
                yield f"id: {item.position}\nevent: {item.type}\n{data}\n\n"
            else:
                yield f"event: reset\ndata: {json.dumps({'reason': item.reason})}\n\n"
    finally:
        feed.unsubscribe(subscription)
