"""Load protection in the gateway: a bounded number of requests at work (excess answered
503 + Retry-After), reads abandoned when their client leaves, maxTimeMS on every query
of the discussion repository, and a cost limit on GraphQL requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from graphql import parse
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from starlette.types import Message, Receive, Scope, Send
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    RecordingPublisher,
    discussion,
    fake_bootstrap,
)

from parley_gateway.accounts import AccessService
from parley_gateway.adapters.mongo_discussions import MongoDiscussionRepository
from parley_gateway.api.load import ConcurrencyLimit
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import (
    DiscussionFilters,
    Position,
    WorkflowUpdate,
)
from parley_gateway.domain import (
    Scope as StoreScope,
)
from parley_gateway.graphql.cost import QUERY_TOO_COSTLY, query_cost
from parley_gateway.service import DiscussionService
from parley_store import DiscussionDocument, DiscussionStatus

# ---------------------------------------------------------------- concurrency limit


class BlockingDiscussions(InMemoryDiscussions):
    """Lists block until released: requests pile up as on a slow database."""

    def __init__(self, *docs: DiscussionDocument) -> None:
        super().__init__(*docs)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def find_page(
        self, scope: StoreScope, filters: DiscussionFilters, after: Position | None, limit: int
    ) -> list[DiscussionDocument]:
        self.entered.set()
        await self.release.wait()
        return await super().find_page(scope, filters, after, limit)


@dataclass
class Gateway:
    client: httpx.AsyncClient
    repo: BlockingDiscussions


@pytest.fixture
async def saturable() -> AsyncIterator[Gateway]:
    """A gateway that works on one request at a time and queues for 50 ms at most."""
    repo = BlockingDiscussions(discussion("t0", minutes=0))
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    settings = GatewaySettings(
        gateway_max_concurrent_requests=1, gateway_queue_timeout_seconds=0.05
    )
    app = create_app(
        settings, bootstrap=fake_bootstrap(DiscussionService(repo, RecordingPublisher()), access)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            headers={"X-API-Key": key.secret},
        ) as client,
    ):
        yield Gateway(client, repo)


async def test_a_request_over_the_limit_is_answered_503_with_retry_after(
    saturable: Gateway,
) -> None:
    first = asyncio.create_task(saturable.client.get("/discussions"))
    await asyncio.wait_for(saturable.repo.entered.wait(), timeout=10)

    refused = await saturable.client.get("/discussions")
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    problem = refused.json()
    assert problem["status"] == 503
    assert problem["type"].endswith("/saturated")
    assert problem["instance"] == "/discussions"
    # Probes are never queued behind the work: a busy instance is not a dead one.
    assert (await saturable.client.get("/health")).status_code == 200

    saturable.repo.release.set()
    served = await asyncio.wait_for(first, timeout=10)
    assert served.status_code == 200
    # The slot is free again.
    assert (await saturable.client.get("/discussions")).status_code == 200


# ---------------------------------------------------------- disconnect cancellation


@dataclass
class Handler:
    """An ASGI app whose work only ends when released (or cancelled)."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: str = "running"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the request
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        self.outcome = "completed"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def call(method: str, handler: Handler) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Runs one request through the limiter; the returned event disconnects its client."""
    gone = asyncio.Event()
    sent: list[Message] = []
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    limiter = ConcurrencyLimit(handler, max_concurrent=4, queue_timeout=1.0)
    scope: Scope = {"type": "http", "method": method, "path": "/discussions", "headers": []}
    return asyncio.create_task(limiter(scope, receive, send)), gone


async def test_a_read_is_abandoned_when_its_client_disconnects() -> None:
    handler = Handler()
    request, disconnect = await call("GET", handler)
    await asyncio.wait_for(handler.entered.wait(), timeout=10)

    disconnect.set()
    await asyncio.wait_for(request, timeout=10)  # ends without an error
    assert handler.outcome == "cancelled"


async def test_a_write_runs_to_its_end_when_its_client_disconnects() -> None:
    handler = Handler()
    request, disconnect = await call("POST", handler)
    await asyncio.wait_for(handler.entered.wait(), timeout=10)

    disconnect.set()
    for _ in range(20):  # plenty of turns for a disconnect to be read and acted on
        await asyncio.sleep(0)
    assert handler.outcome == "running"
    handler.release.set()
    await asyncio.wait_for(request, timeout=10)
    assert handler.outcome == "completed"


# ------------------------------------------------------------------------ maxTimeMS


class RecordingCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self._docs = docs

    def sort(self, *_: Any) -> RecordingCursor:
        return self

    def limit(self, _: int) -> RecordingCursor:
        return self

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def docs() -> AsyncIterator[dict[str, Any]]:
            for doc in self._docs:
                yield doc

        return docs()


class RecordingCollection:
    """Records the options of every call; answers with one discussion document."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]], doc: dict[str, Any]) -> None:
        self._calls = calls
        self._doc = doc

    def find(self, *_: Any, **options: Any) -> RecordingCursor:
        self._calls.append(("find", options))
        return RecordingCursor([])

    async def find_one(self, *_: Any, **options: Any) -> dict[str, Any]:
        self._calls.append(("find_one", options))
        return self._doc

    async def find_one_and_update(self, *_: Any, **options: Any) -> dict[str, Any]:
        self._calls.append(("find_one_and_update", options))
        return self._doc

    async def aggregate(self, *_: Any, **options: Any) -> RecordingCursor:
        self._calls.append(("aggregate", options))
        return RecordingCursor([])


async def test_every_query_of_the_discussion_repository_carries_max_time_ms() -> None:
    doc = discussion("t0", minutes=0)
    calls: list[tuple[str, dict[str, Any]]] = []
    raw = doc.model_dump(by_alias=True)
    db = {name: RecordingCollection(calls, raw) for name in ("discussions", "messages")}
    repo = MongoDiscussionRepository(cast(AsyncDatabase[Any], _Db(db)), max_time_ms=1234)
    scope = StoreScope.of(["store-1"])

    await repo.find_page(scope, DiscussionFilters(), None, 10)
    await repo.count_by_status(scope, DiscussionFilters())
    await repo.get(scope, doc.id)
    await repo.mark_read(scope, doc.id)
    await repo.messages_of(doc)
    await repo.update_workflow(scope, doc.id, WorkflowUpdate(read=True))
    await repo.set_status_many(scope, [doc.id], DiscussionStatus.SOLVED)

    kinds = {kind for kind, _ in calls}
    assert kinds == {"find", "find_one", "find_one_and_update", "aggregate"}
    for kind, options in calls:
        limit = options.get("max_time_ms", options.get("maxTimeMS"))
        assert limit == 1234, f"{kind} ran without maxTimeMS: {options}"


class _Db:
    def __init__(self, collections: dict[str, RecordingCollection]) -> None:
        self._collections = collections

    def __getitem__(self, name: str) -> RecordingCollection:
        return self._collections[name]


# ----------------------------------------------------------------------- query cost

ALIAS_BOMB = (
    "{ "
    + " ".join(f"d{i}: discussions(first: 100) {{ items {{ threadId }} }}" for i in range(30))
    + " }"
)
LIST_PAGE = """
query Page($first: Int!) {
  discussions(first: $first) {
    items { threadId subject status read participants { name email } }
    nextCursor
  }
  counts { new solved }
}
"""


def test_the_cost_counts_pages_aliases_and_fragments() -> None:
    assert query_cost(parse("{ discussions(first: 100) { items { threadId } } }")) == 101
    assert query_cost(parse(ALIAS_BOMB)) == 30 * 101
    # Without first the default page; a variable counts with its value, or the maximum.
    assert query_cost(parse("{ discussions { items { threadId } } }")) == 26
    assert query_cost(parse(LIST_PAGE), {"first": 10}) == 1 + 10 * 2 + 1
    assert query_cost(parse(LIST_PAGE)) == 1 + 100 * 2 + 1
    fragment = """
      query { a: discussions(first: 50) { ...Page } b: discussions(first: 50) { ...Page } }
      fragment Page on DiscussionConnection { items { threadId } }
    """
    assert query_cost(parse(fragment)) == 2 * (1 + 50 * 1)
    # A fragment cycle (refused by validation) does not hang the estimate.
    cycle = "query { discussions { ...A } } fragment A on DiscussionConnection { ...A }"
    assert query_cost(parse(cycle)) == 1


@pytest.fixture
async def graphql() -> AsyncIterator[httpx.AsyncClient]:
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    repo = InMemoryDiscussions(discussion("t0", minutes=0))
    app = create_app(
        GatewaySettings(),
        bootstrap=fake_bootstrap(DiscussionService(repo, RecordingPublisher()), access),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            headers={"X-API-Key": key.secret},
        ) as client,
    ):
        yield client


async def test_an_alias_bomb_of_pages_is_refused_before_it_runs(
    graphql: httpx.AsyncClient,
) -> None:
    response = await graphql.post("/graphql", json={"query": ALIAS_BOMB})
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == QUERY_TOO_COSTLY
    assert error["extensions"]["cost"] == 3030
    assert error["extensions"]["maxCost"] == 1000
    assert "too costly" in error["message"]


async def test_a_normal_page_query_runs(graphql: httpx.AsyncClient) -> None:
    response = await graphql.post(
        "/graphql", json={"query": LIST_PAGE, "variables": {"first": 100}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert [d["threadId"] for d in body["data"]["discussions"]["items"]] == ["t0"]


# ------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "bounds",
    [
        # A command refused with 503 could still sit in the producer's buffer.
        {"gateway_command_timeout_seconds": 2.0, "kafka_request_timeout_ms": 2000},
        # A slow query would be abandoned by the gateway and go on on the server.
        {"gateway_query_max_time_ms": 4000, "mongodb_socket_timeout_ms": 4000},
    ],
)
def test_bounds_that_do_not_fit_together_are_refused(bounds: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(**bounds)


async def test_a_read_without_an_answer_by_its_deadline_is_abandoned_and_answered_503() -> None:
    handler = Handler()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    # A deadline of 0: the hung handler is cut as soon as it has started.
    limiter = ConcurrencyLimit(
        handler, max_concurrent=4, queue_timeout=1.0, read_deadline=0.0, retry_after=9
    )
    scope: Scope = {"type": "http", "method": "GET", "path": "/discussions", "headers": []}
    await asyncio.wait_for(limiter(scope, receive, send), timeout=10)

    assert handler.outcome == "cancelled"
    start = sent[0]
    assert start["status"] == 503
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["retry-after"] == "9"
    assert headers["content-type"] == "application/problem+json"
    assert b"store-unavailable" in b"".join(m.get("body", b"") for m in sent[1:])


async def test_a_response_under_way_is_not_cut_by_the_deadline() -> None:
    sent: list[Message] = []
    go_on = asyncio.Event()

    async def download(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await go_on.wait()  # a slow client reading a large file
        await send({"type": "http.response.body", "body": b"rest"})

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def record(message: Message) -> None:
        sent.append(message)

    limiter = ConcurrencyLimit(download, max_concurrent=4, queue_timeout=1.0, read_deadline=0.0)
    scope: Scope = {"type": "http", "method": "GET", "path": "/files/f", "headers": []}
    request = asyncio.create_task(limiter(scope, receive, record))
    for _ in range(20):
        await asyncio.sleep(0)
    go_on.set()
    await asyncio.wait_for(request, timeout=10)
    assert [m.get("status", m.get("body")) for m in sent] == [200, b"rest"]
