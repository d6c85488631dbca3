"""The web inbox's session cookie on the real MongoDB-compatible store and Kafka: only
the secret's digest is stored, by ``_id``; expiry and sign-out end it, and a sweep
deletes expired sessions never presented again; the cookie authenticates GraphQL (with
the anti-forgery rule) and Idempotency-Key requests; it opens the event stream of a
served gateway (EventSource cannot send a key header)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from integration.gateway.documents import discussion_doc
from integration.gateway.serving import Served
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import Record, TopicProbe

from parley_gateway.accounts import AccessService
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.sessions import SESSION_COOKIE
from parley_platform.kafka import KafkaPublisher
from parley_schemas import (
    CONVERSATION_COMMANDS,
    CONVERSATION_EVENTS,
    MESSAGE_RECEIVED,
    REPLY_REQUESTED,
    Direction,
    Envelope,
    MessageReceived,
    Participant,
    ParticipantRole,
    ReplyCommand,
    utcnow,
)
from parley_store import DISCUSSIONS
from parley_store.collections import WEB_SESSIONS

CSRF = {"X-Requested-With": "parley-inbox"}


async def _key(access: AccessService, store: str) -> str:
    account, _ = await access.create_account(f"Inbox {store}", [store])
    return (await access.issue_key(account.id, name="inbox")).secret


async def _signed_in(client: httpx.AsyncClient, key: str) -> str:
    """Signs ``client`` in (its cookie jar keeps the session); answers the stored id."""
    opened = await client.post("/session", json={"api_key": key}, headers=CSRF)
    assert opened.status_code == 201, opened.text
    return hashlib.sha256(opened.cookies[SESSION_COOKIE].encode()).hexdigest()


async def test_one_sweep_deletes_expired_sessions_and_keeps_live_ones(
    gateway_runtime: tuple[httpx.ASGITransport, Runtime],
    access: AccessService,
    gateway_db: AsyncDatabase[Any],
) -> None:
    sessions = gateway_runtime[1].sessions
    assert sessions is not None
    key = await _key(access, f"store-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(transport=gateway_runtime[0], base_url="http://gw") as client:
        expired = await _signed_in(client, key)
        client.cookies.clear()
        live = await _signed_in(client, key)
    # Never presented again once expired: only a sweep can delete it.
    await gateway_db[WEB_SESSIONS].update_one(
        {"_id": expired}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert await sessions.sweep() >= 1
    assert await gateway_db[WEB_SESSIONS].find_one({"_id": expired}) is None
    assert await gateway_db[WEB_SESSIONS].find_one({"_id": live}) is not None


COUNTS = "{ counts { new open pending solved closed } }"


async def test_graphql_takes_the_cookie_for_the_keys_account_with_the_csrf_rule(
    gateway_runtime: tuple[httpx.ASGITransport, Runtime],
    access: AccessService,
    gateway_db: AsyncDatabase[Any],
    store_id: str,
) -> None:
    doc = discussion_doc(store_id, f"gql-{uuid.uuid4().hex[:8]}")
    await gateway_db[DISCUSSIONS].insert_one(doc)
    other = discussion_doc(f"store-{uuid.uuid4().hex[:8]}", f"gql-{uuid.uuid4().hex[:8]}")
    await gateway_db[DISCUSSIONS].insert_one(other)
    key = await _key(access, store_id)
    mark_unread = f'mutation {{ markUnread(discussionId: "{doc["_id"]}") {{ id }} }}'
    async with httpx.AsyncClient(transport=gateway_runtime[0], base_url="http://gw") as client:
        await _signed_in(client, key)
        forged = await client.post("/graphql", json={"query": mark_unread})
        assert forged.status_code == 403
        assert forged.headers["content-type"] == "application/problem+json"
        assert forged.json()["type"].endswith("/csrf-header-missing")

        allowed = await client.post("/graphql", json={"query": mark_unread}, headers=CSRF)
        assert allowed.json() == {"data": {"markUnread": {"id": doc["_id"]}}}
        by_get = await client.get("/graphql", params={"query": COUNTS})
        assert by_get.status_code == 200, by_get.text
        assert sum(by_get.json()["data"]["counts"].values()) == 1  # its store's only
        # Another account's discussion looks unknown, as over REST.
        theirs = await client.post(
            "/graphql",
            json={"query": mark_unread.replace(doc["_id"], other["_id"])},
            headers=CSRF,
        )
        assert theirs.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        refused = await client.get("/graphql", params={"query": mark_unread})
        assert refused.status_code == 400  # mutations never run over GET


def _reply_of(record: Record, discussion_id: str) -> ReplyCommand | None:
    envelope = record.envelope()
    if envelope.type != REPLY_REQUESTED.name:
        return None
    assert isinstance(envelope.data, ReplyCommand)
    return envelope.data if envelope.data.discussion_id == discussion_id else None


async def test_an_idempotency_key_replayed_through_the_cookie_queues_one_reply(
    gateway_runtime: tuple[httpx.ASGITransport, Runtime],
    access: AccessService,
    gateway_db: AsyncDatabase[Any],
    store_id: str,
    kafka_bootstrap: str,
) -> None:
    doc = discussion_doc(store_id, f"idem-{uuid.uuid4().hex[:8]}")
    await gateway_db[DISCUSSIONS].insert_one(doc)
    key = await _key(access, store_id)
    path = f"/discussions/{doc['_id']}/replies"
    reply = {"body": "Votre colis part aujourd'hui."}
    headers = {**CSRF, "Idempotency-Key": str(uuid.uuid4())}
    async with (
        httpx.AsyncClient(transport=gateway_runtime[0], base_url="http://gw") as client,
        TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe,
    ):
        await _signed_in(client, key)
        first = await client.post(path, json=reply, headers=headers)
        assert first.status_code == 202, first.text
        again = await client.post(path, json=reply, headers=headers)
        # The same account's API key is the same caller: its repeat replays too.
        by_key = await client.post(
            path,
            json=reply,
            headers={**headers, "Authorization": f"Bearer {key}"},
        )
        await probe.wait_for(lambda r: _reply_of(r, doc["_id"]) is not None)
        seen = await probe.drain(2.0)
    assert again.status_code == 202
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert by_key.content == first.content
    assert by_key.headers["idempotent-replayed"] == "true"
    commands = [c for r in seen if (c := _reply_of(r, doc["_id"])) is not None]
    assert [c.command_id for c in commands] == [first.json()["command_id"]]


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


async def test_the_cookie_opens_the_event_stream_of_the_keys_stores(
    served: Served, gateway_settings: GatewaySettings
) -> None:
    url, runtime = served.url, served.runtime
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
