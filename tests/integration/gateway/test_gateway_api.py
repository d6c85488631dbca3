"""The gateway's REST API end to end on the real MongoDB-compatible server and Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import ClientFactory
from integration.gateway.documents import discussion_doc, inbound_doc, outbound_doc
from opentelemetry import trace
from opentelemetry.trace import format_trace_id
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import Record, TopicProbe

from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_platform.tracing import extract_context
from parley_schemas import CONVERSATION_COMMANDS, REPLY_REQUESTED, ReplyCommand
from parley_schemas.text import PLAIN_TEXT_ONLY
from parley_store import DISCUSSIONS, MESSAGES

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


async def insert(db: AsyncDatabase[Any], *docs: dict[str, Any]) -> None:
    await db[DISCUSSIONS].insert_many(list(docs))


async def list_all(
    gateway: httpx.AsyncClient, params: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    response = await gateway.get("/discussions", params=tuple(params))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_probes(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/health")).status_code == 200
    ready = await gateway.get("/ready")
    assert ready.status_code == 200, ready.text


async def test_list_filters_by_marketplace_status_and_read(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    await insert(
        gateway_db,
        discussion_doc(store_id, "c-new", marketplace="carrefour", minutes=1),
        discussion_doc(store_id, "c-solved", marketplace="carrefour", minutes=2, status="solved"),
        discussion_doc(store_id, "a-open", marketplace="allegro", minutes=3, status="open"),
        discussion_doc(store_id, "a-read", marketplace="allegro", minutes=4, read=True),
        discussion_doc(store_id, "f-new", marketplace="fnac", minutes=5),
    )
    base = [("store_id", store_id)]

    def threads(items: list[dict[str, Any]]) -> list[str]:
        return [i["thread_id"] for i in items]

    assert threads(await list_all(gateway, base)) == [
        "f-new",
        "a-read",
        "a-open",
        "c-solved",
        "c-new",
    ]
    by_marketplace = [*base, ("marketplace", "carrefour"), ("marketplace", "allegro")]
    assert threads(await list_all(gateway, by_marketplace)) == [
        "a-read",
        "a-open",
        "c-solved",
        "c-new",
    ]
    by_status = [*base, ("status", "new"), ("status", "open")]
    assert threads(await list_all(gateway, by_status)) == ["f-new", "a-read", "a-open", "c-new"]
    both = [*base, ("marketplace", "carrefour"), ("status", "solved")]
    assert threads(await list_all(gateway, both)) == ["c-solved"]
    assert threads(await list_all(gateway, [*base, ("read", "true")])) == ["a-read"]
    unread_allegro = [*base, ("read", "false"), ("marketplace", "allegro")]
    assert threads(await list_all(gateway, unread_allegro)) == ["a-open"]

    item = (await list_all(gateway, [*base, ("marketplace", "fnac")]))[0]
    assert item["store_id"] == store_id
    assert item["participants"][0] == {
        "role": "customer",
        "name": "Ana Silva",
        "email": "ana@example.com",
        "marketplace_id": None,
        "organization": None,
    }
    assert item["last_message_at"] == "2026-06-01T08:05:00Z"
    assert item["type"] == "order" and item["order_id"] == "f-new"


async def test_replies_due_are_filtered_and_counted_at_risk_on_the_real_server(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    now = datetime.now(UTC)

    def due(thread: str, hours: float | None, status: str = "new") -> dict[str, Any]:
        doc = discussion_doc(store_id, thread, status=status)
        at = None if hours is None else now + timedelta(hours=hours)
        return {**doc, "reply_expected": at is not None, "reply_due_at": at}

    await insert(
        gateway_db,
        due("late", -3),
        due("soon", 2, status="open"),
        due("later", 30),
        due("settled", -5, status="closed"),
        due("none", None),
        discussion_doc(store_id, "older-doc"),  # stored before the fields existed
    )
    base = [("store_id", store_id)]
    horizon = (now + timedelta(hours=5)).isoformat()
    due_soon = await list_all(gateway, [*base, ("reply_due_before", horizon)])
    # A null or missing reply_due_at is never "before" a date, on FerretDB as on MongoDB.
    assert sorted(i["thread_id"] for i in due_soon) == ["late", "settled", "soon"]
    counts = await gateway.get("/discussions/counts", params=base)
    assert counts.status_code == 200, counts.text
    assert counts.json()["at_risk"] == 2
    older = [i for i in await list_all(gateway, base) if i["thread_id"] == "older-doc"]
    assert (older[0]["reply_expected"], older[0]["reply_due_at"]) == (False, None)


async def test_stores_filter_keeps_other_stores_out(
    gateway_as: ClientFactory, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    other = f"{store_id}-other"
    await insert(gateway_db, discussion_doc(store_id, "mine"), discussion_doc(other, "theirs"))
    gateway, _ = await gateway_as(store_id, other)
    items = await list_all(gateway, [("store_id", store_id)])
    assert [i["thread_id"] for i in items] == ["mine"]
    both = await list_all(gateway, [("store_id", store_id), ("store_id", other)])
    assert {i["thread_id"] for i in both} == {"mine", "theirs"}
    assert {i["thread_id"] for i in await list_all(gateway, [])} == {"mine", "theirs"}


async def test_pages_cover_every_discussion_once(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    # Ties on last_message_at (three per minute) and undated discussions at the end
    # exercise the _id tie-break and the null branch of the cursor.
    docs = [discussion_doc(store_id, f"t{i:02d}", minutes=i // 3) for i in range(20)]
    docs += [discussion_doc(store_id, f"u{i}", minutes=None) for i in range(4)]
    for i, doc in enumerate(docs[15:20]):
        # Sub-millisecond parts: the server keeps milliseconds, and so must the cursor.
        doc["last_message_at"] += timedelta(hours=1, microseconds=1000 * i + 456)
    await insert(gateway_db, *docs)
    undated = datetime.min.replace(tzinfo=UTC)
    expected = [
        d["_id"]
        for d in sorted(
            docs,
            key=lambda d: (
                d["last_message_at"] is not None,
                d["last_message_at"] or undated,
                d["_id"],
            ),
            reverse=True,
        )
    ]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        params: dict[str, str | int] = {"store_id": store_id, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        response = await gateway.get("/discussions", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 5
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert len(seen) == len(set(seen)) == 24


async def test_tampered_cursor_is_a_400_problem(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    await insert(gateway_db, *(discussion_doc(store_id, f"t{i}", minutes=i) for i in range(3)))
    page = (await gateway.get("/discussions", params={"store_id": store_id, "limit": 1})).json()
    cursor = page["next_cursor"]
    tampered = ("B" if cursor[0] == "A" else "A") + cursor[1:]
    response = await gateway.get("/discussions", params={"cursor": tampered})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://parley.dev/problems/invalid-cursor"


async def test_detail_lists_messages_and_marks_read(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    doc = discussion_doc(store_id, "order-1", minutes=30)
    await insert(gateway_db, doc)
    command_id = uuid.uuid4().hex
    await gateway_db[MESSAGES].insert_many(
        [
            outbound_doc(doc["_id"], command_id, 20, "We are checking."),
            inbound_doc(doc["_id"], "m1", 10, "Where is my parcel?"),
            inbound_doc(doc["_id"], "m2", 30, "Any news?"),
        ]
    )

    response = await gateway.get(f"/discussions/{doc['_id']}")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["id"] == doc["_id"]
    assert detail["read"] is True
    assert [m["body"] for m in detail["messages"]] == [
        "Where is my parcel?",
        "We are checking.",
        "Any news?",
    ]
    first, reply, _ = detail["messages"]
    assert first["direction"] == "inbound" and first["delivery"] is None
    assert first["attachments"] == [
        {
            "name": "photo.jpg",
            "size": 2048,
            "content_type": "image/jpeg",
            "file_id": "f1",
            "download_url": f"/discussions/{doc['_id']}/attachments/f1",
        }
    ]
    assert reply["direction"] == "outbound"
    assert reply["delivery"] == {
        "state": "failed",
        "error": "thread closed by the operator",
        "attempts": 3,
        "retry": 0,
        "next_attempt_at": None,
    }
    stored = await gateway_db[DISCUSSIONS].find_one({"_id": doc["_id"]})
    assert stored is not None and stored["read"] is True
    # Only the workflow field changed: the synced fields are untouched.
    assert {k: v for k, v in stored.items() if k != "read"} == {
        k: v for k, v in doc.items() if k != "read"
    }


async def test_unknown_discussion_is_a_404_problem(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get(f"/discussions/{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def _command_of(record: Record) -> ReplyCommand | None:
    envelope = record.envelope()
    if envelope.type != REPLY_REQUESTED.name:
        return None
    assert isinstance(envelope.data, ReplyCommand)
    return envelope.data


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("reply", "new", "open"),
        ("reply", "pending", "pending"),
        ("reply_and_solve", "open", "solved"),
        ("reply_and_pending", "new", "pending"),
    ],
)
async def test_reply_puts_a_traced_command_on_kafka_and_sets_the_status(
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
    action: str,
    before: str,
    after: str,
) -> None:
    doc = discussion_doc(store_id, "thread:with:colons", status=before)
    await insert(gateway_db, doc)
    gateway, account_id = await gateway_as(store_id)
    # The caller's trace: the command must continue it across Kafka.
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"

    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe:
        response = await gateway.post(
            f"/discussions/{doc['_id']}/replies",
            json={"body": "  Your parcel left today.  ", "action": action},
            headers={"traceparent": traceparent},
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["state"] == "queued"
        assert response.headers["location"] == f"/discussions/{doc['_id']}"
        command_id = accepted["command_id"]

        def ours(record: Record) -> bool:
            command = _command_of(record)
            return command is not None and command.command_id == command_id

        [record] = await probe.wait_for(ours, timeout=30)

    envelope = record.envelope()
    assert envelope.source == "/parley/gateway"
    assert envelope.subject == doc["key"]
    assert record.key == doc["key"].encode()
    command = envelope.data
    assert isinstance(command, ReplyCommand)
    assert command.discussion_id == doc["_id"]
    assert (command.store_id, command.marketplace, command.thread_id) == (
        store_id,
        "carrefour",
        "thread:with:colons",
    )
    assert command.body == "Your parcel left today."
    assert command.action.value == action
    assert [r.value for r in command.recipients] == ["customer"]
    assert command.requested_by == account_id

    assert "traceparent" in record.headers
    assert record.headers["content-type"] == b"application/cloudevents+json"
    carried = trace.get_current_span(extract_context(record.headers.items())).get_span_context()
    assert format_trace_id(carried.trace_id) == trace_id

    stored = await gateway_db[DISCUSSIONS].find_one({"_id": doc["_id"]})
    assert stored is not None and stored["status"] == after


async def test_reply_without_caller_trace_still_carries_one(
    gateway: httpx.AsyncClient,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    doc = discussion_doc(store_id, "t1")
    await insert(gateway_db, doc)
    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe:
        response = await gateway.post(f"/discussions/{doc['_id']}/replies", json={"body": "Hi"})
        assert response.status_code == 202, response.text
        command_id = response.json()["command_id"]
        [record] = await probe.wait_for(
            lambda r: (c := _command_of(r)) is not None and c.command_id == command_id
        )
    traceparent = record.headers["traceparent"].decode()
    assert traceparent.startswith("00-") and traceparent.split("-")[1] != "0" * 32


async def test_html_reply_is_refused_and_nothing_is_queued(
    gateway: httpx.AsyncClient,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    doc = discussion_doc(store_id, "t1")
    await insert(gateway_db, doc)
    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe:
        response = await gateway.post(
            f"/discussions/{doc['_id']}/replies",
            json={
                "body": 'Hello <a href="https://x.example">click</a>',
                "action": "reply_and_solve",
            },
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["detail"] == PLAIN_TEXT_ONLY
        seen = await probe.drain(3.0)

    ours = [r for r in seen if (c := _command_of(r)) is not None and c.discussion_id == doc["_id"]]
    assert ours == []
    stored = await gateway_db[DISCUSSIONS].find_one({"_id": doc["_id"]})
    assert stored is not None and stored["status"] == "new"


async def test_the_counts_cutoff_follows_the_configured_at_risk_window(
    gateway_settings: GatewaySettings, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    """GATEWAY_REPLY_AT_RISK_HOURS reaches the counts through the real wiring: with 48 h,
    a reply due in 40 h is at risk and at_risk_before is 48 h ahead, which the web inbox
    then filters and highlights with."""
    now = datetime.now(UTC)
    soon = {**discussion_doc(store_id, "in-window"), "reply_expected": True}
    later = {**discussion_doc(store_id, "beyond"), "reply_expected": True}
    await insert(
        gateway_db,
        {**soon, "reply_due_at": now + timedelta(hours=40)},
        {**later, "reply_due_at": now + timedelta(hours=50)},
    )
    app = create_app(gateway_settings.model_copy(update={"gateway_reply_at_risk_hours": 48}))
    async with app.router.lifespan_context(app):
        access = app.state.runtime.access
        account, _ = await access.create_account("Window", [store_id])
        key = await access.issue_key(account.id, name="integration")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {key.secret}"},
        ) as client:
            asked = datetime.now(UTC)
            response = await client.get("/discussions/counts", params={"store_id": store_id})
    assert response.status_code == 200, response.text
    counts = response.json()
    assert counts["at_risk"] == 1, "due in 40 h is within 48 h, due in 50 h is not"
    cutoff = datetime.fromisoformat(counts["at_risk_before"])
    assert timedelta(hours=48) <= cutoff - asked < timedelta(hours=48, minutes=1)
