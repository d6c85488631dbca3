"""The web inbox's edge on in-memory fakes: the page and its CSP, the session cookie
(sign in, scope, expiry, sign out, revoked keys, the periodic sweep), the anti-forgery
header, and the cookie on GraphQL and with Idempotency-Key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
from support.waiting import eventually
from unit.gateway.autoresponder_fakes import autoresponder_service
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    discussion,
    started,
)
from unit.gateway.idempotency_fakes import InMemoryIdempotencyStore

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.idempotency import IdempotencyService
from parley_gateway.service import DiscussionService
from parley_gateway.sessions import (
    SESSION_COOKIE,
    SessionService,
    WebSession,
    sweep_periodically,
)

PROBLEM = "application/problem+json"
CSRF = {"X-Requested-With": "parley-inbox"}


class InMemorySessions:
    def __init__(self) -> None:
        self.sessions: dict[str, WebSession] = {}

    async def add(self, session: WebSession) -> None:
        self.sessions[session.id] = session

    async def get(self, session_id: str) -> WebSession | None:
        return self.sessions.get(session_id)

    async def delete(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    async def delete_expired(self, now: datetime) -> int:
        expired = [s.id for s in self.sessions.values() if s.expires_at <= now]
        for session_id in expired:
            del self.sessions[session_id]
        return len(expired)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Inbox:
    app_client: Callable[[str], httpx.AsyncClient]
    client: httpx.AsyncClient
    key: str
    access: AccessService
    key_id: str
    sessions: InMemorySessions
    clock: Clock
    service: SessionService
    published: RecordingPublisher


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    repo = InMemoryDiscussions(
        discussion("mine", minutes=1), discussion("theirs", minutes=2, store_id="store-2")
    )
    accounts = InMemoryAccounts()
    access = AccessService(accounts, PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    issued = await access.issue_key(account.id)
    sessions = InMemorySessions()
    clock = Clock()
    service = SessionService(sessions, access, accounts, timedelta(hours=12), clock=clock)
    published = RecordingPublisher()

    @asynccontextmanager
    async def wire(_: GatewaySettings) -> AsyncIterator[Runtime]:
        yield Runtime(
            service=DiscussionService(repo, published),
            access=access,
            autoresponders=autoresponder_service(),
            idempotency=IdempotencyService(InMemoryIdempotencyStore(), purges=False),
            sessions=service,
        )

    app = create_app(GatewaySettings(), bootstrap=wire)
    async with started(app) as client_for, client_for() as client:

        def client_at(base_url: str) -> httpx.AsyncClient:
            return client_for(base_url=base_url)

        yield Inbox(
            client_at,
            client,
            issued.secret,
            access,
            issued.stored.key_id,
            sessions,
            clock,
            service,
            published,
        )


async def sign_in(inbox: Inbox) -> httpx.Response:
    response = await inbox.client.post("/session", json={"api_key": inbox.key}, headers=CSRF)
    assert response.status_code == 201, response.text
    return response


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status


async def test_the_inbox_page_is_served_at_the_root_with_a_strict_csp(inbox: Inbox) -> None:
    page = await inbox.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/app/main.js">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"

    module = await inbox.client.get("/web/app/main.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert module.headers["content-security-policy"] == csp
    catalogue = await inbox.client.get("/web/i18n/fr.json")
    assert catalogue.status_code == 200 and catalogue.json()["signin.submit"]


async def test_the_inbox_shadows_no_api_route(inbox: Inbox) -> None:
    assert (await inbox.client.get("/health")).status_code == 200
    assert (await inbox.client.get("/docs")).status_code == 200
    assert (await inbox.client.get("/openapi.json")).status_code == 200
    assert (await inbox.client.get("/metrics")).status_code == 200
    assert_problem(await inbox.client.get("/discussions"), 401)
    assert (await inbox.client.get("/web/../pyproject.toml")).status_code == 404
    assert (await inbox.client.get("/web/nothing.js")).status_code == 404


async def test_signing_in_sets_an_httponly_strict_cookie_not_the_key(inbox: Inbox) -> None:
    response = await sign_in(inbox)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http (local): a Secure cookie would not come back
    assert inbox.key not in cookie
    assert response.json()["store_ids"] == ["store-1"]
    assert response.headers["cache-control"] == "no-store"
    # Only the secret's digest is stored.
    secret = response.cookies[SESSION_COOKIE]
    assert secret not in inbox.sessions.sessions
    assert len(inbox.sessions.sessions) == 1


async def test_the_cookie_is_secure_over_https(inbox: Inbox) -> None:
    async with inbox.app_client("https://gateway") as client:
        response = await client.post("/session", json={"api_key": inbox.key})
    assert "Secure" in response.headers["set-cookie"]


async def test_signing_in_with_the_authorization_header(inbox: Inbox) -> None:
    response = await inbox.client.post("/session", headers={"Authorization": f"Bearer {inbox.key}"})
    assert response.status_code == 201
    assert SESSION_COOKIE in response.cookies


@pytest.mark.parametrize("body", [{"api_key": "pk_nope.bad"}, {}])
async def test_a_bad_key_is_a_401_problem_and_no_cookie(inbox: Inbox, body: dict[str, str]) -> None:
    response = await inbox.client.post("/session", json=body, headers=CSRF)
    assert_problem(response, 401)
    assert "set-cookie" not in response.headers
    assert inbox.sessions.sessions == {}


async def test_the_cookie_authenticates_with_the_keys_scope(inbox: Inbox) -> None:
    await sign_in(inbox)
    listed = await inbox.client.get("/discussions")
    assert listed.status_code == 200
    assert {d["store_id"] for d in listed.json()["items"]} == {"store-1"}
    who = await inbox.client.get("/session")
    assert who.status_code == 200 and who.json()["store_ids"] == ["store-1"]


async def test_an_unsafe_cookie_request_needs_the_inbox_header(inbox: Inbox) -> None:
    await sign_in(inbox)
    target = (await inbox.client.get("/discussions")).json()["items"][0]["id"]
    forged = await inbox.client.patch(f"/discussions/{target}", json={"status": "solved"})
    assert_problem(forged, 403)
    assert forged.json()["type"].endswith("csrf-header-missing")
    allowed = await inbox.client.patch(
        f"/discussions/{target}", json={"status": "solved"}, headers=CSRF
    )
    assert allowed.status_code == 200, allowed.text
    # An API key in a header needs no such header: API clients are not browsers.
    by_key = await inbox.client.patch(
        f"/discussions/{target}",
        json={"status": "open"},
        headers={"Authorization": f"Bearer {inbox.key}"},
    )
    assert by_key.status_code == 200


async def test_a_session_expires(inbox: Inbox) -> None:
    await sign_in(inbox)
    inbox.clock.now += timedelta(hours=11, minutes=59)
    assert (await inbox.client.get("/discussions")).status_code == 200
    inbox.clock.now += timedelta(minutes=2)
    assert_problem(await inbox.client.get("/discussions"), 401)
    assert inbox.sessions.sessions == {}  # deleted when presented expired


async def test_signing_out_ends_the_session(inbox: Inbox) -> None:
    await sign_in(inbox)
    assert_problem(await inbox.client.delete("/session"), 403)  # forged sign-out
    out = await inbox.client.delete("/session", headers=CSRF)
    assert out.status_code == 204
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert inbox.sessions.sessions == {}
    assert_problem(await inbox.client.get("/discussions"), 401)


async def test_revoking_the_key_ends_its_sessions(inbox: Inbox) -> None:
    response = await sign_in(inbox)
    await inbox.access.revoke_key(inbox.key_id)
    inbox.client.cookies.set(SESSION_COOKIE, response.cookies[SESSION_COOKIE])
    assert_problem(await inbox.client.get("/discussions"), 401)


async def test_an_unknown_cookie_is_a_401(inbox: Inbox) -> None:
    inbox.client.cookies.set(SESSION_COOKIE, "made-up")
    assert_problem(await inbox.client.get("/discussions"), 401)


async def test_a_sweep_deletes_expired_sessions_never_presented_again(inbox: Inbox) -> None:
    await sign_in(inbox)
    inbox.clock.now += timedelta(hours=6)
    await sign_in(inbox)
    [older, newer] = sorted(inbox.sessions.sessions.values(), key=lambda s: s.created_at)
    inbox.clock.now = older.expires_at
    assert await inbox.service.sweep() == 1
    assert list(inbox.sessions.sessions) == [newer.id]


class FlakySessions(InMemorySessions):
    """Fails its first sweep, as a store out of reach would."""

    def __init__(self) -> None:
        super().__init__()
        self.sweeps = 0

    async def delete_expired(self, now: datetime) -> int:
        self.sweeps += 1
        if self.sweeps == 1:
            raise ConnectionError("store unreachable")
        return await super().delete_expired(now)


async def test_the_periodic_sweep_outlives_a_failure_and_stops_when_cancelled(
    inbox: Inbox,
) -> None:
    sessions = FlakySessions()
    expired = WebSession("x", "acct", "key", inbox.clock.now, inbox.clock.now)
    sessions.sessions[expired.id] = expired
    service = SessionService(
        sessions, inbox.access, InMemoryAccounts(), timedelta(hours=1), clock=inbox.clock
    )
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(sweep_periodically(service, timedelta(milliseconds=10)))

        async def swept() -> bool:
            return not sessions.sessions

        await eventually(swept, timeout=5, interval=0.01)
    assert sessions.sweeps >= 2  # the failed first sweep did not end the loop
    # Logged by its type, without a traceback: rendering one blocked the event loop for
    # seconds at every start while the store was unreachable (an outage test's request
    # then missed its deadline).
    (failed,) = [e for e in logs if e["event"] == "expired web sessions not swept"]
    assert failed["error"] == "ConnectionError"
    assert "exc_info" not in failed
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()


MINE = discussion("mine").id
THEIRS = discussion("theirs", store_id="store-2").id
COUNTS = "{ counts { new open pending solved closed } }"
MARK_UNREAD = f'mutation {{ markUnread(discussionId: "{MINE}") {{ id }} }}'


async def test_graphql_takes_the_cookie_with_the_rest_csrf_rule(inbox: Inbox) -> None:
    await sign_in(inbox)
    forged = await inbox.client.post("/graphql", json={"query": MARK_UNREAD})
    assert_problem(forged, 403)
    assert forged.json()["type"].endswith("csrf-header-missing")
    # Any POST: a query too (nothing tells a forged one from the inbox's).
    assert_problem(await inbox.client.post("/graphql", json={"query": COUNTS}), 403)

    allowed = await inbox.client.post("/graphql", json={"query": MARK_UNREAD}, headers=CSRF)
    assert allowed.status_code == 200
    assert allowed.json() == {"data": {"markUnread": {"id": MINE}}}
    by_get = await inbox.client.get("/graphql", params={"query": COUNTS})
    assert by_get.status_code == 200, by_get.text
    assert "errors" not in by_get.json()
    assert sum(by_get.json()["data"]["counts"].values()) == 1  # store-1's one discussion

    # Mutations never run over GET, with or without the header.
    refused = await inbox.client.get("/graphql", params={"query": MARK_UNREAD}, headers=CSRF)
    assert refused.status_code == 400  # strawberry's own refusal, before anything runs
    assert refused.headers["content-type"] == "application/problem+json"
    assert "mutations are not allowed" in refused.json()["detail"]


async def test_graphql_prefers_a_key_in_a_header_to_the_cookie(inbox: Inbox) -> None:
    await sign_in(inbox)
    other, _ = await inbox.access.create_account("Other", ["store-2"])
    key = (await inbox.access.issue_key(other.id)).secret
    # No anti-forgery header needed: the key, not the cookie, authenticates.
    response = await inbox.client.post(
        "/graphql",
        json={"query": MARK_UNREAD.replace(MINE, THEIRS)},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.json() == {"data": {"markUnread": {"id": THEIRS}}}


async def test_graphql_with_an_expired_cookie_is_unauthenticated(inbox: Inbox) -> None:
    await sign_in(inbox)
    inbox.clock.now += timedelta(hours=13)
    response = await inbox.client.post("/graphql", json={"query": COUNTS}, headers=CSRF)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_idempotency_key_replays_for_the_cookie_as_for_the_api_key(
    inbox: Inbox,
) -> None:
    await sign_in(inbox)
    reply = {"body": "Votre colis part aujourd'hui."}
    headers = {**CSRF, "Idempotency-Key": "reply-1"}
    first = await inbox.client.post(f"/discussions/{MINE}/replies", json=reply, headers=headers)
    assert first.status_code == 202, first.text
    again = await inbox.client.post(f"/discussions/{MINE}/replies", json=reply, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    # The account's API key is the same caller: the same key replays too.
    async with inbox.app_client("http://gateway") as api:
        by_key = await api.post(
            f"/discussions/{MINE}/replies",
            json=reply,
            headers={"Authorization": f"Bearer {inbox.key}", "Idempotency-Key": "reply-1"},
        )
    assert by_key.headers["idempotent-replayed"] == "true"
    assert len(inbox.published.published) == 1
    # A forged (header-less) cookie request is refused, not replayed.
    forged = await inbox.client.post(
        f"/discussions/{MINE}/replies", json=reply, headers={"Idempotency-Key": "reply-1"}
    )
    assert_problem(forged, 403)
