"""The HTTP edge on in-memory fakes: status codes, problem details, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    discussion,
    fake_bootstrap,
    message,
    started,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.service import DiscussionService
from parley_schemas.text import PLAIN_TEXT_ONLY
from parley_store import DiscussionStatus

PROBLEM = "application/problem+json"
MAX_BODY = 64 * 1024


@dataclass
class Api:
    client: httpx.AsyncClient
    repo: InMemoryDiscussions
    publisher: RecordingPublisher
    access: AccessService
    account_id: str


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    repo = InMemoryDiscussions(*(discussion(f"t{i}", minutes=i) for i in range(5)))
    publisher = RecordingPublisher()
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    settings = GatewaySettings(gateway_max_body_bytes=MAX_BODY)
    app = create_app(settings, bootstrap=fake_bootstrap(DiscussionService(repo, publisher), access))
    async with (
        started(app) as client_for,
        client_for({"Authorization": f"Bearer {key.secret}"}) as client,
    ):
        yield Api(client, repo, publisher, access, account.id)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    return body


async def test_health(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_follows_the_store(api: Api) -> None:
    assert (await api.client.get("/ready")).status_code == 200
    api.repo.fail_ping = True
    body = assert_problem(await api.client.get("/ready"), 503)
    assert body["instance"] == "/ready"


async def test_list_pages_with_an_opaque_cursor(api: Api) -> None:
    first = await api.client.get("/discussions", params={"limit": 3})
    assert first.status_code == 200
    page = first.json()
    assert [i["thread_id"] for i in page["items"]] == ["t4", "t3", "t2"]
    assert set(page["items"][0]) == {
        "id",
        "store_id",
        "marketplace",
        "channel",
        "thread_id",
        "subject",
        "type",
        "status",
        "read",
        "order_id",
        "entities",
        "participants",
        "last_message_at",
        "last_message_preview",
        "message_count",
        "merchant_ticket_id",
        "tags",
        "reply_expected",
        "reply_due_at",
    }
    second = await api.client.get(
        "/discussions", params={"limit": 3, "cursor": page["next_cursor"]}
    )
    assert [i["thread_id"] for i in second.json()["items"]] == ["t1", "t0"]
    assert second.json()["next_cursor"] is None


async def test_tampered_cursor_is_a_400_problem(api: Api) -> None:
    page = (await api.client.get("/discussions", params={"limit": 1})).json()
    cursor = page["next_cursor"]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    body = assert_problem(await api.client.get("/discussions", params={"cursor": tampered}), 400)
    assert body["type"] == "https://parley.dev/problems/invalid-cursor"
    assert body["errors"] == [
        {"parameter": "cursor", "detail": "the cursor was altered", "code": "invalid_cursor"}
    ]
    assert_problem(await api.client.get("/discussions", params={"cursor": "%%%"}), 400)


async def test_invalid_query_parameters_are_listed(api: Api) -> None:
    response = await api.client.get("/discussions", params={"limit": 0, "status": "archived"})
    body = assert_problem(response, 422)
    assert {e["parameter"] for e in body["errors"]} == {"limit", "status.0"}


async def test_detail_marks_read_and_unknown_is_404(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))
    api.repo.add_messages(message(doc, "1", 1), message(doc, "2", 2, outbound=True))
    response = await api.client.get(f"/discussions/{doc.id}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["read"] is True
    assert [m["direction"] for m in detail["messages"]] == ["inbound", "outbound"]
    assert detail["messages"][0]["delivery"] is None
    assert detail["messages"][1]["delivery"] == {
        "state": "sent",
        "error": None,
        "attempts": 1,
        "retry": 0,
        "next_attempt_at": None,
    }

    body = assert_problem(await api.client.get("/discussions/nope"), 404)
    assert body["type"] == "https://parley.dev/problems/discussion-not-found"
    assert body["instance"] == "/discussions/nope"


async def test_reply_is_accepted_with_a_location(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))
    response = await api.client.post(
        f"/discussions/{doc.id}/replies",
        json={"body": "On its way", "action": "reply_and_pending", "recipients": ["operator"]},
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/discussions/{doc.id}"
    [envelope] = api.publisher.published
    assert response.json() == {"command_id": envelope.data.command_id, "state": "queued"}
    assert [r.value for r in envelope.data.recipients] == ["operator"]
    assert api.repo.discussions[doc.id].status is DiscussionStatus.PENDING


def allegro_discussion(api: Api, family: str = "allegro") -> str:
    doc = discussion("a-1", marketplace="allegro-pl", family=family)
    api.repo.discussions[doc.id] = doc
    return doc.id


@pytest.mark.parametrize(
    ("reply", "pointer", "code", "says"),
    [
        # Allegro's Message Center reaches the buyer only (NewMessageInThread).
        (
            {"body": "Hi", "recipients": ["operator"]},
            "#/recipients",
            "recipient_not_accepted",
            "allegro does not accept replies addressed to: operator",
        ),
        # NewMessageInThread.text is at most 2000 characters.
        (
            {"body": "x" * 2001},
            "#/body",
            "too_long_for_marketplace",
            "reply is 2001 characters; allegro accepts 2000",
        ),
    ],
)
async def test_a_reply_the_marketplace_would_refuse_is_a_422_naming_the_rule(
    api: Api, reply: dict[str, Any], pointer: str, code: str, says: str
) -> None:
    discussion_id = allegro_discussion(api)
    response = await api.client.post(f"/discussions/{discussion_id}/replies", json=reply)
    body = assert_problem(response, 422)
    assert body["detail"] == says
    assert body["errors"] == [{"pointer": pointer, "detail": says, "code": code}]
    assert api.publisher.published == []


async def test_a_reply_within_the_marketplace_rules_is_queued(api: Api) -> None:
    discussion_id = allegro_discussion(api)
    response = await api.client.post(
        f"/discussions/{discussion_id}/replies", json={"body": "x" * 2000}
    )
    assert response.status_code == 202, response.text
    assert [e.data.body for e in api.publisher.published] == ["x" * 2000]


async def test_a_reply_to_a_family_parley_cannot_answer_is_a_422(api: Api) -> None:
    discussion_id = allegro_discussion(api, family="ebay")
    response = await api.client.post(f"/discussions/{discussion_id}/replies", json={"body": "Hi"})
    body = assert_problem(response, 422)
    assert body["errors"][0]["code"] == "family_not_supported"
    assert "ebay" in body["detail"]
    assert api.publisher.published == []


def due_in(api: Api, thread: str, hours: float | None, status: DiscussionStatus) -> None:
    due = None if hours is None else datetime.now(UTC) + timedelta(hours=hours)
    doc = discussion(thread, status=status).model_copy(
        update={"reply_expected": due is not None, "reply_due_at": due}
    )
    api.repo.discussions[doc.id] = doc


async def test_replies_due_are_listed_and_counted_at_risk(api: Api) -> None:
    due_in(api, "late", -3, DiscussionStatus.NEW)  # overdue
    due_in(api, "soon", 2, DiscussionStatus.OPEN)  # within the 4 h at-risk window
    due_in(api, "later", 10, DiscussionStatus.NEW)  # due, not at risk yet
    due_in(api, "done", -5, DiscussionStatus.SOLVED)  # overdue but settled
    due_in(api, "none", None, DiscussionStatus.NEW)  # no reply expected

    counts = (await api.client.get("/discussions/counts")).json()
    assert counts["at_risk"] == 2
    unread_counts = (await api.client.get("/discussions/counts", params={"read": True})).json()
    assert unread_counts["at_risk"] == 0, "the counts' filters apply to at_risk too"

    before = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    listed = await api.client.get("/discussions", params={"reply_due_before": before})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert sorted(i["thread_id"] for i in items) == ["done", "late", "soon"]
    assert all(i["reply_expected"] and i["reply_due_at"] for i in items)

    naive = await api.client.get("/discussions", params={"reply_due_before": "2026-06-01T00:00"})
    assert assert_problem(naive, 422)["errors"][0]["parameter"] == "reply_due_before"


async def test_html_reply_is_a_422_problem_and_queues_nothing(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))
    response = await api.client.post(
        f"/discussions/{doc.id}/replies", json={"body": "<p>Hello</p>", "action": "reply_and_solve"}
    )
    body = assert_problem(response, 422)
    assert body["detail"] == PLAIN_TEXT_ONLY
    assert body["errors"] == [
        {"pointer": "#/body", "detail": PLAIN_TEXT_ONLY, "code": "html_not_accepted"}
    ]
    assert api.publisher.published == []
    assert api.repo.discussions[doc.id].status is DiscussionStatus.NEW


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({"body": "   "}, "#/body"),
        ({"body": "x" * 10_001}, "#/body"),
        ({"body": "hi", "action": "reply_and_close"}, "#/action"),
        ({"body": "hi", "recipients": []}, "#/recipients"),
        ({"body": "hi", "recipients": ["merchant"]}, "#/recipients/0"),
        ({"body": "hi", "bcc": "x"}, "#/bcc"),
        ({}, "#/body"),
    ],
)
async def test_invalid_reply_fields_are_pointed_at(
    api: Api, payload: dict[str, object], pointer: str
) -> None:
    doc = next(iter(api.repo.discussions.values()))
    body = assert_problem(
        await api.client.post(f"/discussions/{doc.id}/replies", json=payload), 422
    )
    assert pointer in [e.get("pointer") for e in body["errors"]]
    assert api.publisher.published == []


async def test_malformed_json_is_a_422_problem(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))
    response = await api.client.post(
        f"/discussions/{doc.id}/replies",
        content=b'{"body": ',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 422)


async def test_oversized_body_is_a_413_problem(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))
    response = await api.client.post(
        f"/discussions/{doc.id}/replies", json={"body": "x" * (MAX_BODY + 1)}
    )
    body = assert_problem(response, 413)
    assert f"{MAX_BODY} bytes" in str(body["detail"])
    assert api.publisher.published == []


async def test_oversized_streamed_body_is_a_413_problem(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"body": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = await api.client.post(
        f"/discussions/{doc.id}/replies",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert api.publisher.published == []


async def test_a_reply_the_outbox_cannot_store_is_a_503_with_retry_after(api: Api) -> None:
    doc = next(iter(api.repo.discussions.values()))
    api.publisher.fail = True
    response = await api.client.post(f"/discussions/{doc.id}/replies", json={"body": "hi"})
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"


async def test_unexpected_errors_do_not_leak(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("password=hunter2 at db-7.internal")

    monkeypatch.setattr(api.repo, "find_page", broken)
    response = await api.client.get("/discussions")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "internal" not in str(body["detail"])


async def test_unknown_route_and_method_are_problems(api: Api) -> None:
    assert_problem(await api.client.get("/nowhere"), 404)
    response = await api.client.delete("/discussions")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


def test_openapi_documents_problems() -> None:
    schema = create_app(GatewaySettings()).openapi()
    responses = schema["paths"]["/discussions/{discussion_id}/replies"]["post"]["responses"]
    assert PROBLEM in responses["422"]["content"]
    assert "202" in responses


async def test_counts_report_the_at_risk_cutoff_of_the_configured_window() -> None:
    """The inbox filters and highlights with the cutoff the counts return, so it must be
    the configured window's (48 h here, not the default 4 h), the one at_risk counted
    with, in REST and GraphQL alike."""
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    repo = InMemoryDiscussions()
    for thread, hours in (("in-window", 40.0), ("beyond", 50.0)):
        doc = discussion(thread).model_copy(
            update={"reply_expected": True, "reply_due_at": now + timedelta(hours=hours)}
        )
        repo.discussions[doc.id] = doc
    service = DiscussionService(
        repo, RecordingPublisher(), clock=lambda: now, at_risk_window=timedelta(hours=48)
    )
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    app = create_app(GatewaySettings(), bootstrap=fake_bootstrap(service, access))
    async with (
        started(app) as client_for,
        client_for({"Authorization": f"Bearer {key.secret}"}) as client,
    ):
        rest = await client.get("/discussions/counts")
        graphql = await client.post(
            "/graphql", json={"query": "{ counts { atRisk atRiskBefore } }"}
        )
    assert rest.status_code == 200, rest.text
    cutoff = now + timedelta(hours=48)
    assert datetime.fromisoformat(rest.json()["at_risk_before"]) == cutoff
    assert rest.json()["at_risk"] == 1, "due in 40 h is within the 48 h window, 50 h is not"
    assert graphql.status_code == 200, graphql.text
    counts = graphql.json()["data"]["counts"]
    assert datetime.fromisoformat(counts["atRiskBefore"]) == cutoff
    assert counts["atRisk"] == 1
