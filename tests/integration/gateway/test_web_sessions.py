"""The web inbox's session cookie on the real MongoDB-compatible store and Kafka: only
the secret's digest is stored, by ``_id``; expiry and sign-out end it; the cookie opens
the event stream of a served gateway (EventSource cannot send a key header)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from pymongo.asynchronous.database import AsyncDatabase
from support.waiting import eventually

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.sessions import SESSION_COOKIE
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
from parley_store.collections import WEB_SESSIONS

CSRF = {"X-Requested-With": "parley-inbox"}


async def _key(access: AccessService, store: str) -> str:
    account, _ = await access.create_account(f"Inbox {store}", [store])
    return (await access.issue_key(account.id, name="inbox")).secret


async def test_a_session_is_stored_by_digest_and_ends_on_expiry_and_sign_out(
    gateway_runtime: tuple[httpx.ASGITransport, Runtime],
    access: AccessService,
    gateway_db: AsyncDatabase[Any],
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    key = await _key(access, store)
    async with httpx.AsyncClient(transport=gateway_runtime[0], base_url="http://gw") as client:
        bad = await client.post("/session", json={"api_key": "pk_x.nope"}, headers=CSRF)
        assert bad.status_code == 401
        assert bad.headers["content-type"] == "application/problem+json"
        assert "set-cookie" not in bad.headers

        opened = await client.post("/session", json={"api_key": key}, headers=CSRF)
        assert opened.status_code == 201, opened.text
        secret = opened.cookies[SESSION_COOKIE]
        digest = hashlib.sha256(secret.encode()).hexdigest()
        stored = await gateway_db[WEB_SESSIONS].find_one({"_id": digest})
        assert stored is not None
        assert secret not in json.dumps(stored, default=str)
        assert key not in json.dumps(stored, default=str)

        listed = await client.get("/discussions", params={"store_id": store})
        assert listed.status_code == 200
        forged = await client.post(
            "/discussions/bulk-status", json={"ids": ["x"], "status": "open"}
        )
        assert forged.status_code == 403

        # Expired in the store: refused, and deleted as it is presented.
        await gateway_db[WEB_SESSIONS].update_one(
            {"_id": digest}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
        )
        assert (await client.get("/discussions")).status_code == 401
        assert await gateway_db[WEB_SESSIONS].find_one({"_id": digest}) is None

        again = await client.post("/session", json={"api_key": key}, headers=CSRF)
        digest = hashlib.sha256(again.cookies[SESSION_COOKIE].encode()).hexdigest()
        assert (await client.delete("/session", headers=CSRF)).status_code == 204
        assert await gateway_db[WEB_SESSIONS].find_one({"_id": digest}) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
async def served(gateway_settings: GatewaySettings) -> AsyncIterator[tuple[str, Runtime]]:
    port = _free_port()
    app = create_app(gateway_settings.model_copy(update={"gateway_live_keepalive_seconds": 0.5}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await eventually(started, timeout=30, interval=0.05)
    runtime: Runtime = app.state.runtime
    live = runtime.live
    assert live is not None

    async def following() -> bool:
        return bool(live.position.offsets)

    await eventually(following, timeout=30, interval=0.05)
    try:
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        await task


async def test_the_cookie_opens_the_event_stream_of_the_keys_stores(
    served: tuple[str, Runtime], gateway_settings: GatewaySettings
) -> None:
    url, runtime = served
    store = f"store-{uuid.uuid4().hex[:8]}"
    key = await _key(runtime.access, store)
    publisher = KafkaPublisher.from_settings(gateway_settings, "web-sessions-test")
    await publisher.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            signed_in = await client.post("/session", json={"api_key": key}, headers=CSRF)
            assert signed_in.status_code == 201
            page = await client.get("/")
            assert page.status_code == 200 and "content-security-policy" in page.headers
            async with client.stream("GET", "/events/stream") as response:
                assert response.status_code == 200
                thread = uuid.uuid4().hex[:8]
                await publisher.publish(
                    CONVERSATION_EVENTS,
                    Envelope[MessageReceived](
                        source="/test/web-sessions",
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
                            body="live through the cookie",
                            sent_at=utcnow(),
                            read=False,
                        ),
                    ),
                )
                async with asyncio.timeout(20):
                    async for line in response.aiter_lines():
                        if line.startswith("event: "):
                            assert line == f"event: {MESSAGE_RECEIVED.name}"
                            break
    finally:
        await publisher.stop()
