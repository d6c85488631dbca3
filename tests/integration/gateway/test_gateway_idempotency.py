"""Idempotency-Key and the text rules on the real MongoDB-compatible server and Kafka:
a repeated reply is one command on the topic and the same answer; bad text is refused
before anything is queued."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import ClientFactory
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import Record, TopicProbe

from parley_gateway.domain.idempotency import record_id
from parley_schemas import CONVERSATION_COMMANDS, REPLY_REQUESTED, ReplyCommand
from parley_store import DISCUSSIONS
from parley_store.collections import IDEMPOTENCY_KEYS

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def _reply_of(record: Record, discussion_id: str) -> ReplyCommand | None:
    envelope = record.envelope()
    if envelope.type != REPLY_REQUESTED.name:
        return None
    assert isinstance(envelope.data, ReplyCommand)
    return envelope.data if envelope.data.discussion_id == discussion_id else None


@pytest.fixture
async def thread(gateway_db: AsyncDatabase[Any], store_id: str) -> dict[str, Any]:
    doc = discussion_doc(store_id, f"idem-{uuid.uuid4().hex[:8]}")
    await gateway_db[DISCUSSIONS].insert_one(doc)
    return doc


async def test_a_repeated_reply_is_one_command_and_the_same_answer(
    gateway_as: ClientFactory,
    store_id: str,
    thread: dict[str, Any],
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
) -> None:
    gateway, account_id = await gateway_as(store_id)
    key = str(uuid.uuid4())
    path = f"/discussions/{thread['_id']}/replies"
    reply = {"body": "Votre colis part aujourd'hui.", "action": "reply_and_solve"}
    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe:
        first = await gateway.post(path, json=reply, headers={"Idempotency-Key": key})
        assert first.status_code == 202, first.text
        again = await gateway.post(path, json=reply, headers={"Idempotency-Key": key})
        [record] = await probe.wait_for(lambda r: _reply_of(r, thread["_id"]) is not None)
        # Whatever the repeat could have published would be there by now: the first
        # command already is, and a second would have been sent before the 202.
        seen = await probe.drain(2.0)
    commands = [c for r in seen if (c := _reply_of(r, thread["_id"])) is not None]
    assert len(commands) == 1
    assert commands[0].command_id == first.json()["command_id"]
    assert record.envelope().data.command_id == first.json()["command_id"]

    assert again.status_code == 202
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"

    stored = await gateway_db[IDEMPOTENCY_KEYS].find_one({"_id": record_id(account_id, key)})
    assert stored is not None
    assert stored["state"] == "completed"
    assert stored["response"]["status"] == 202
    assert key not in str(stored)  # the key is stored as a digest only
    ttl = stored["expires_at"] - datetime.now(UTC)
    assert timedelta(hours=23) < ttl <= timedelta(hours=24)


async def test_the_key_is_bound_to_its_request_and_its_account(
    gateway_as: ClientFactory, store_id: str, thread: dict[str, Any], kafka_bootstrap: str
) -> None:
    gateway, _ = await gateway_as(store_id)
    other_account, _ = await gateway_as(store_id)
    key = str(uuid.uuid4())
    path = f"/discussions/{thread['_id']}/replies"
    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe:
        assert (
            await gateway.post(path, json={"body": "One"}, headers={"Idempotency-Key": key})
        ).status_code == 202
        reused = await gateway.post(path, json={"body": "Two"}, headers={"Idempotency-Key": key})
        assert reused.status_code == 422
        assert reused.headers["content-type"] == PROBLEM
        assert reused.json()["type"].endswith("/idempotency-key-reused")
        # Another account's same key is another key.
        theirs = await other_account.post(
            path, json={"body": "Two"}, headers={"Idempotency-Key": key}
        )
        assert theirs.status_code == 202
        await probe.wait_for(lambda r: _reply_of(r, thread["_id"]) is not None, count=2)
        seen = await probe.drain(1.0)
    bodies = sorted(c.body for r in seen if (c := _reply_of(r, thread["_id"])) is not None)
    assert bodies == ["One", "Two"]


@pytest.mark.parametrize(
    ("text", "code"),
    [("Merci\u0000", "control_character"), ("\u202e\u200b", "bidi_control")],
)
async def test_bad_text_is_refused_before_anything_is_queued(
    gateway: httpx.AsyncClient, thread: dict[str, Any], text: str, code: str
) -> None:
    response = await gateway.post(f"/discussions/{thread['_id']}/replies", json={"body": text})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["code"] == code
    detail = await gateway.get(f"/discussions/{thread['_id']}")
    assert detail.json()["status"] == "new"


async def test_an_upload_retried_with_a_new_multipart_boundary_stores_one_file(
    gateway: httpx.AsyncClient, store_id: str
) -> None:
    key = str(uuid.uuid4())

    async def upload() -> httpx.Response:
        # httpx draws a new random boundary for every request, as clients do on retry.
        return await gateway.post(
            "/files",
            data={"store_id": store_id},
            files={"file": ("note.txt", b"Retour accept\xc3\xa9", "text/plain")},
            headers={"Idempotency-Key": key},
        )

    first, again = await upload(), await upload()
    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_autoresponder_text_follows_the_rules_and_puts_replay(
    gateway: httpx.AsyncClient, store_id: str
) -> None:
    path = f"/autoresponders/{store_id}/allegro/message_center"
    bidi = await gateway.put(path, json={"enabled": False, "template": "Merci \u202e!"})
    assert bidi.status_code == 422
    assert bidi.json()["errors"][0]["code"] == "bidi_control"
    key = str(uuid.uuid4())
    settings = {"enabled": False, "template": "Bonjour {buyer_name}, merci\u00a0!"}
    first = await gateway.put(path, json=settings, headers={"Idempotency-Key": key})
    again = await gateway.put(path, json=settings, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
