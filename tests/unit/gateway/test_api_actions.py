"""The HTTP edge of API keys, filters, counts and workflow actions, on in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
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
    started,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.service import DiscussionService
from parley_schemas import RESYNC_REQUESTED, Participant, ParticipantRole
from parley_store import DiscussionStatus, DiscussionType

PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: httpx.AsyncClient  # no key
    mine: httpx.AsyncClient  # an account owning store "mine"
    repo: InMemoryDiscussions
    publisher: RecordingPublisher
    access: AccessService
    account_id: str
    key: str


DOCS = (
    discussion(
        "o-1",
        store_id="mine",
        minutes=1,
        order_id="O-1",
        subject="Où est mon colis ?",
        participants=[
            Participant(role=ParticipantRole.CUSTOMER, name="Ana Silva", email="ana@example.com")
        ],
    ),
    discussion(
        "p-1",
        store_id="mine",
        minutes=2,
        type=DiscussionType.PRODUCT,
        subject="Taille (EU) du modèle?",
        status=DiscussionStatus.OPEN,
        participants=[Participant(role=ParticipantRole.CUSTOMER, name="Bo", email="bo@x.org")],
    ),
    discussion("o-2", store_id="mine", minutes=3, order_id="O-2", status=DiscussionStatus.OPEN),
    discussion("theirs", store_id="theirs", minutes=4, order_id="O-1", subject="colis"),
)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    repo = InMemoryDiscussions(*DOCS)
    publisher = RecordingPublisher()
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Mine", ["mine"])
    key = (await access.issue_key(account.id)).secret
    app = create_app(
        GatewaySettings(), bootstrap=fake_bootstrap(DiscussionService(repo, publisher), access)
    )
    async with (
        started(app) as client_for,
        client_for() as anonymous,
        client_for({"Authorization": f"Bearer {key}"}) as mine,
    ):
        yield Api(anonymous, mine, repo, publisher, access, account.id, key)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


def threads(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [i["thread_id"] for i in response.json()["items"]]


def doc_id(thread: str) -> str:
    return next(d.id for d in DOCS if d.thread_id == thread)


ROUTES = [
    ("GET", "/discussions", None),
    ("GET", "/discussions/counts", None),
    ("GET", f"/discussions/{doc_id('o-1')}", None),
    ("PATCH", f"/discussions/{doc_id('o-1')}", {"read": True}),
    ("POST", "/discussions/bulk-status", {"ids": [doc_id("o-1")], "status": "open"}),
    ("POST", f"/discussions/{doc_id('o-1')}/replies", {"body": "hi"}),
    ("POST", f"/discussions/{doc_id('o-1')}/resync", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_discussion_route_needs_a_key(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    missing = problem(await api.client.request(method, path, json=body), 401)
    assert missing["type"] == "https://parley.dev/problems/unauthenticated"
    invalid = await api.client.request(
        method, path, json=body, headers={"Authorization": "Bearer prl_000000000000_" + "a" * 43}
    )
    problem(invalid, 401)
    assert invalid.headers["www-authenticate"] == 'Bearer realm="parley", error="invalid_token"'
    assert api.publisher.published == [] and api.publisher.resyncs == []
    assert api.repo.discussions[doc_id("o-1")] == DOCS[0]


async def test_the_key_is_checked_before_any_input(api: Api) -> None:
    problem(await api.client.get("/discussions", params={"limit": 0, "since": "x"}), 401)
    problem(await api.client.patch(f"/discussions/{doc_id('o-1')}", json={"tags": None}), 401)


async def test_missing_key_gets_a_bare_challenge(api: Api) -> None:
    response = await api.client.get("/discussions", headers={"Authorization": "Basic eDp5"})
    problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="parley"'


async def test_the_key_also_works_as_x_api_key_until_revoked(api: Api) -> None:
    headers = {"X-API-Key": api.key}
    assert (await api.client.get("/discussions", headers=headers)).status_code == 200
    key_id = api.key.split("_")[1]
    assert await api.access.revoke_key(key_id)
    problem(await api.client.get("/discussions", headers=headers), 401)
    problem(await api.mine.get("/discussions"), 401)


async def test_probes_and_docs_stay_public(api: Api) -> None:
    for path in ("/health", "/ready", "/docs", "/openapi.json"):
        assert (await api.client.get(path)).status_code == 200, path
    spec = (await api.client.get("/openapi.json")).json()
    # The web inbox's session cookie is the third way in (see api/session.py).
    assert set(spec["components"]["securitySchemes"]) == {"BearerKey", "HeaderKey", "SessionCookie"}
    assert "401" in spec["paths"]["/discussions"]["get"]["responses"]


async def test_the_list_shows_only_the_accounts_stores(api: Api) -> None:
    assert threads(await api.mine.get("/discussions")) == ["o-2", "p-1", "o-1"]
    both = await api.mine.get("/discussions", params=[("store_id", "mine"), ("store_id", "theirs")])
    assert threads(both) == ["o-2", "p-1", "o-1"]
    assert threads(await api.mine.get("/discussions", params={"store_id": "theirs"})) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "product"}, ["p-1"]),
        ([("type", "product"), ("type", "order")], ["o-2", "p-1", "o-1"]),
        ({"order_id": "O-1"}, ["o-1"]),
        ({"participant": "SILVA"}, ["o-1"]),
        ({"participant": "x.org"}, ["p-1"]),
        ({"participant": "a.a"}, []),
        ({"subject": "COLIS"}, ["o-1"]),
        ({"subject": "(eu)"}, ["p-1"]),
        ({"since": "2026-06-01T08:02:00Z"}, ["o-2", "p-1"]),
        ({"until": "2026-06-01T08:02:00Z"}, ["o-1"]),
        ({"since": "2026-06-01T10:01:00+02:00", "until": "2026-06-01T08:03:00Z"}, ["o-1", "p-1"]),
    ],
)
async def test_list_filters(api: Api, params: Any, expected: list[str]) -> None:
    assert sorted(threads(await api.mine.get("/discussions", params=params))) == sorted(expected)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"since": "2026-06-01T08:00:00"}, "since"),
        ({"since": "2026-06-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "until"),
        ({"subject": "  "}, "subject"),
        ({"participant": "x" * 101}, "participant"),
        ({"type": "question"}, "type.0"),
    ],
)
async def test_invalid_filters_are_named(api: Api, params: Any, parameter: str) -> None:
    for path in ("/discussions", "/discussions/counts"):
        body = problem(await api.mine.get(path, params=params), 422)
        assert parameter in [e.get("parameter") for e in body["errors"]], body


async def test_counts_per_status_follow_the_filters_but_not_the_status(api: Api) -> None:
    response = await api.mine.get("/discussions/counts", params={"status": "new"})
    assert response.status_code == 200, response.text
    assert "at_risk_before" in response.json()
    assert without_cutoff(response.json()) == {
        "new": 1,
        "open": 2,
        "pending": 0,
        "solved": 0,
        "closed": 0,
        "at_risk": 0,
    }
    by_type = await api.mine.get("/discussions/counts", params={"type": "order"})
    assert without_cutoff(by_type.json()) == {
        "new": 1,
        "open": 1,
        "pending": 0,
        "solved": 0,
        "closed": 0,
        "at_risk": 0,
    }
    theirs = await api.mine.get("/discussions/counts", params={"store_id": "theirs"})
    assert set(without_cutoff(theirs.json()).values()) == {0}


def without_cutoff(counts: dict[str, Any]) -> dict[str, Any]:
    """The counts without at_risk_before, a moment that moves with the clock."""
    return {k: v for k, v in counts.items() if k != "at_risk_before"}


async def test_patch_sets_the_workflow_fields(api: Api) -> None:
    target = doc_id("o-1")
    response = await api.mine.patch(
        f"/discussions/{target}",
        json={
            "status": "pending",
            "read": True,
            "merchant_ticket_id": " ZD-42 ",
            "tags": ["VIP", "late-delivery"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["read"], body["merchant_ticket_id"], body["tags"]) == (
        "pending",
        True,
        "ZD-42",
        ["vip", "late-delivery"],
    )
    unread = await api.mine.patch(f"/discussions/{target}", json={"read": False})
    assert unread.json()["read"] is False and unread.json()["merchant_ticket_id"] == "ZD-42"
    cleared = await api.mine.patch(f"/discussions/{target}", json={"merchant_ticket_id": None})
    assert cleared.json()["merchant_ticket_id"] is None
    stored = api.repo.discussions[target]
    assert (stored.status, stored.read, stored.tags) == (
        DiscussionStatus.PENDING,
        False,
        ["vip", "late-delivery"],
    )


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({}, "#"),
        ({"status": None}, "#/status"),
        ({"status": "archived"}, "#/status"),
        ({"read": None}, "#/read"),
        ({"tags": None}, "#/tags"),
        ({"tags": ["ok", "not ok"]}, "#/tags/1"),
        ({"merchant_ticket_id": "x" * 65}, "#/merchant_ticket_id"),
        ({"merchant_ticket_id": "a\nb"}, "#/merchant_ticket_id"),
        ({"subject": "mine now"}, "#/subject"),
    ],
)
async def test_invalid_patches_are_pointed_at_and_change_nothing(
    api: Api, payload: dict[str, Any], pointer: str
) -> None:
    target = doc_id("o-1")
    body = problem(await api.mine.patch(f"/discussions/{target}", json=payload), 422)
    assert pointer in [e.get("pointer") for e in body["errors"]], body
    assert api.repo.discussions[target] == DOCS[0]


async def test_bulk_status_reports_each_id_and_never_touches_other_accounts(api: Api) -> None:
    ids = [doc_id("o-1"), doc_id("theirs"), "unknown", doc_id("p-1"), doc_id("o-1")]
    payload = {"ids": ids, "status": "solved"}
    response = await api.mine.post("/discussions/bulk-status", json=payload)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "solved",
        "updated": 2,
        "results": [
            {"id": doc_id("o-1"), "outcome": "updated"},
            {"id": doc_id("theirs"), "outcome": "not_found"},
            {"id": "unknown", "outcome": "not_found"},
            {"id": doc_id("p-1"), "outcome": "updated"},
        ],
    }
    assert api.repo.discussions[doc_id("theirs")].status is DiscussionStatus.NEW
    assert api.repo.discussions[doc_id("o-2")].status is DiscussionStatus.OPEN


@pytest.mark.parametrize(
    "payload",
    [
        {"ids": [], "status": "open"},
        {"ids": [str(i) for i in range(101)], "status": "open"},
        {"ids": ["a"], "status": "archived"},
        {"ids": ["a"]},
    ],
)
async def test_invalid_bulk_requests_are_refused(api: Api, payload: dict[str, Any]) -> None:
    problem(await api.mine.post("/discussions/bulk-status", json=payload), 422)


async def test_resync_queues_a_request_for_ingest(api: Api) -> None:
    target = doc_id("o-1")
    response = await api.mine.post(f"/discussions/{target}/resync")
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/discussions/{target}"
    [envelope] = api.publisher.resyncs
    assert response.json() == {"request_id": envelope.data.request_id, "state": "queued"}
    assert envelope.type == RESYNC_REQUESTED.name
    assert envelope.subject == "mine:carrefour:o-1"
    assert (envelope.data.store_id, envelope.data.marketplace, envelope.data.thread_id) == (
        "mine",
        "carrefour",
        "o-1",
    )
    assert envelope.data.requested_by == api.account_id


async def test_a_resync_the_outbox_cannot_store_is_a_503(api: Api) -> None:
    api.publisher.fail = True
    response = await api.mine.post(f"/discussions/{doc_id('o-1')}/resync")
    problem(response, 503)
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"status": "closed"}),
        ("POST", "/replies", {"body": "hi"}),
        ("POST", "/resync", None),
    ],
)
async def test_another_accounts_discussion_is_not_found(
    api: Api, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    theirs = doc_id("theirs")
    path = f"/discussions/{theirs}{suffix}"
    answer = problem(await api.mine.request(method, path, json=body), 404)
    unknown = problem(await api.mine.request(method, f"/discussions/nope{suffix}", json=body), 404)
    assert answer["title"] == unknown["title"] and answer["type"] == unknown["type"]
    assert api.repo.discussions[theirs] == DOCS[3]
    assert api.publisher.published == [] and api.publisher.resyncs == []


async def test_a_reply_is_requested_by_the_callers_account(api: Api) -> None:
    response = await api.mine.post(f"/discussions/{doc_id('o-1')}/replies", json={"body": "hi"})
    assert response.status_code == 202, response.text
    assert api.publisher.published[0].data.requested_by == api.account_id
