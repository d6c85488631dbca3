"""GraphQL at /graphql on in-memory fakes: the same use cases and rules as REST,
errors with stable codes, the caller's scope on every field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fakes.gateway import InMemoryDeliveryRecords
from unit.gateway.fakes import (
    PEPPER,
    InMemoryAccounts,
    InMemoryDiscussions,
    InMemoryFiles,
    RecordingPublisher,
    discussion,
    fake_bootstrap,
    message,
    started,
)

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.deliveries import DeliveryService
from parley_gateway.service import DiscussionService
from parley_schemas import AttachmentRef, ParticipantRole, ReplyAction, ReplyCommand
from parley_store import DiscussionDocument, DiscussionStatus, DiscussionType


@dataclass
class Gql:
    client: httpx.AsyncClient
    anonymous: httpx.AsyncClient
    repo: InMemoryDiscussions
    publisher: RecordingPublisher
    account_id: str
    deliveries: InMemoryDeliveryRecords

    async def run(
        self, query: str, variables: dict[str, Any] | None = None, *, anonymous: bool = False
    ) -> dict[str, Any]:
        client = self.anonymous if anonymous else self.client
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    assert "Traceback" not in str(error)
    result: dict[str, Any] = error
    return result


def one_failed_delivery(doc: DiscussionDocument) -> InMemoryDeliveryRecords:
    """The outbox of one discussion holding one failed reply, ``command-1``."""
    outbox = InMemoryDeliveryRecords()
    command = ReplyCommand(
        command_id="command-1",
        discussion_id=doc.id,
        store_id=doc.store_id,
        marketplace=doc.marketplace,
        thread_id=doc.thread_id,
        body="Shipped.",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="someone",
        requested_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    outbox.hold(command, "failed", "thread closed")
    return outbox


@pytest.fixture
async def gql() -> AsyncIterator[Gql]:
    mine = [
        discussion("t0", minutes=0, order_id="O-1", subject="Colis perdu"),
        discussion("t1", minutes=1, type=DiscussionType.PRODUCT, read=True),
        discussion("t2", minutes=2, status=DiscussionStatus.SOLVED, order_id="O-2"),
        discussion("t3", minutes=3, marketplace="fnac"),
    ]
    theirs = discussion("x0", store_id="store-2", minutes=9)
    repo = InMemoryDiscussions(*mine, theirs)
    repo.add_messages(
        message(mine[0], "m1", 0).model_copy(
            update={
                "attachments": [
                    AttachmentRef(
                        name="photo.jpg", size=3, content_type="image/jpeg", file_id="f1"
                    ),
                    AttachmentRef(name="not yet.pdf"),
                ]
            }
        )
    )
    publisher = RecordingPublisher()
    access = AccessService(InMemoryAccounts(), PEPPER)
    account, _ = await access.create_account("Shop", ["store-1"])
    key = await access.issue_key(account.id)
    service = DiscussionService(repo, publisher, files=InMemoryFiles())
    base = fake_bootstrap(service, access)
    outbox = one_failed_delivery(mine[0])

    @asynccontextmanager
    async def wire(settings: GatewaySettings) -> AsyncIterator[Runtime]:
        async with base(settings) as runtime:
            yield replace(runtime, deliveries=DeliveryService(repo, outbox, publisher))

    app = create_app(GatewaySettings(), bootstrap=wire)
    async with (
        started(app) as client_for,
        client_for({"X-API-Key": key.secret}) as client,
        client_for() as anonymous,
    ):
        yield Gql(client, anonymous, repo, publisher, account.id, outbox)


LIST = """
query List($filters: DiscussionFilter, $first: Int! = 25, $after: String) {
  discussions(filters: $filters, first: $first, after: $after) {
    items { threadId status read }
    nextCursor
  }
}
"""


async def threads(gql: Gql, **variables: Any) -> list[str]:
    body = await gql.run(LIST, variables)
    assert "errors" not in body, body
    return [i["threadId"] for i in body["data"]["discussions"]["items"]]


async def test_lists_only_the_callers_stores_with_the_rest_filters(gql: Gql) -> None:
    assert await threads(gql) == ["t3", "t2", "t1", "t0"]
    assert await threads(gql, filters={"status": ["NEW"], "marketplace": ["carrefour"]}) == [
        "t1",
        "t0",
    ]
    assert await threads(gql, filters={"type": ["PRODUCT"]}) == ["t1"]
    assert await threads(gql, filters={"read": False, "orderId": ["O-1", "O-2"]}) == ["t2", "t0"]
    assert await threads(gql, filters={"subject": "COLIS", "participant": "ana"}) == ["t0"]
    window = {"since": "2026-06-01T08:01:00Z", "until": "2026-06-01T08:03:00+00:00"}
    assert await threads(gql, filters=window) == ["t2", "t1"]
    assert await threads(gql, filters={"storeIds": ["store-2"]}) == []


async def test_pages_with_cursors(gql: Gql) -> None:
    first = await gql.run(LIST, {"first": 3})
    page = first["data"]["discussions"]
    assert [i["threadId"] for i in page["items"]] == ["t3", "t2", "t1"]
    rest = await gql.run(LIST, {"first": 3, "after": page["nextCursor"]})
    assert rest["data"]["discussions"] == {
        "items": [{"threadId": "t0", "status": "NEW", "read": False}],
        "nextCursor": None,
    }


async def test_bad_paging_arguments_are_refused_with_codes(gql: Gql) -> None:
    error = only_error(await gql.run(LIST, {"after": "bm90LW91cnM"}))
    assert error["extensions"] == {
        "code": "BAD_REQUEST",
        "field": "after",
        "reason": "invalid_cursor",
    }
    error = only_error(await gql.run(LIST, {"first": 0}))
    assert error["extensions"]["code"] == "VALIDATION"
    assert "first must be within 1..100" in error["message"]
    error = only_error(await gql.run(LIST, {"filters": {"subject": "   "}}))
    assert error["extensions"] == {"code": "VALIDATION", "field": "subject", "reason": "empty"}


async def test_counts_ignore_the_status_filter(gql: Gql) -> None:
    query = "query($f: DiscussionFilter) { counts(filters: $f) { new open pending solved closed } }"
    body = await gql.run(query, {"f": {"status": ["SOLVED"]}})
    assert body["data"]["counts"] == {"new": 3, "open": 0, "pending": 0, "solved": 1, "closed": 0}
    body = await gql.run(query, {"f": {"marketplace": ["fnac"]}})
    assert body["data"]["counts"]["new"] == 1


DETAIL = """
query($id: ID!) {
  discussion(id: $id) {
    threadId read
    messages { body attachments { name fileId url } }
  }
}
"""


async def test_opening_marks_read_and_gives_attachment_urls(gql: Gql) -> None:
    t0 = discussion("t0").id
    body = await gql.run(DETAIL, {"id": t0})
    assert body["data"]["discussion"] == {
        "threadId": "t0",
        "read": True,
        "messages": [
            {
                "body": "message m1",
                "attachments": [
                    {
                        "name": "photo.jpg",
                        "fileId": "f1",
                        "url": f"/discussions/{t0}/attachments/f1",
                    },
                    {"name": "not yet.pdf", "fileId": None, "url": None},
                ],
            }
        ],
    }
    assert gql.repo.discussions[t0].read is True


async def test_another_accounts_discussion_is_not_found(gql: Gql) -> None:
    theirs = discussion("x0", store_id="store-2").id
    for query in (
        DETAIL,
        "mutation($id: ID!) { setStatus(discussionId: $id, status: CLOSED) { id } }",
        "mutation($id: ID!) { markUnread(discussionId: $id) { id } }",
        "mutation($id: ID!) { resync(discussionId: $id) { requestId } }",
        'mutation($id: ID!) { reply(discussionId: $id, body: "Hi") { commandId } }',
    ):
        error = only_error(await gql.run(query, {"id": theirs}))
        assert error["extensions"] == {"code": "NOT_FOUND"}, query
        assert error["message"] == f"There is no discussion {theirs}."
    bulk = await gql.run(
        "mutation($ids: [ID!]!) { bulkSetStatus(ids: $ids, status: CLOSED) "
        "{ updated results { id outcome } } }",
        {"ids": [theirs, discussion("t0").id]},
    )
    assert bulk["data"]["bulkSetStatus"] == {
        "updated": 1,
        "results": [
            {"id": theirs, "outcome": "NOT_FOUND"},
            {"id": discussion("t0").id, "outcome": "UPDATED"},
        ],
    }
    stored = gql.repo.discussions[theirs]
    assert (stored.status, stored.read) == (DiscussionStatus.NEW, False)
    assert gql.publisher.published == [] and gql.publisher.resyncs == []


async def test_without_a_valid_key_every_field_is_unauthenticated(gql: Gql) -> None:
    for query in (
        LIST,
        "{ counts { new } }",
        'mutation { markRead(discussionId: "x") { id } }',
        'mutation { setTags(discussionId: "x", tags: ["NOT A TAG"]) { id } }',
    ):
        body = await gql.run(query, anonymous=True)
        error = only_error(body)
        assert error["extensions"] == {"code": "UNAUTHENTICATED"}, query
        assert "API key is required" in error["message"]
    bad = await gql.anonymous.post(
        "/graphql",
        json={"query": "{ counts { new } }"},
        headers={"Authorization": "Bearer prl_0123456789ab_" + "A" * 43},
    )
    assert only_error(bad.json())["message"] == "The API key is not valid (unknown or revoked)."
    # The schema itself is public (it is committed in the repository).
    intro = await gql.run("{ __schema { queryType { name } } }", anonymous=True)
    assert intro["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_reply_goes_through_the_same_rules_and_command(gql: Gql) -> None:
    t0 = discussion("t0").id
    mutation = """
    mutation($id: ID!, $body: String!, $action: ReplyAction!, $to: [Recipient!]) {
      reply(discussionId: $id, body: $body, action: $action, recipients: $to) {
        commandId discussionId state
      }
    }"""
    html = await gql.run(mutation, {"id": t0, "body": "<b>Hi</b>", "action": "REPLY"})
    error = only_error(html)
    assert error["extensions"] == {
        "code": "VALIDATION",
        "field": "body",
        "reason": "html_not_accepted",
    }
    assert gql.publisher.published == []

    body = await gql.run(
        mutation,
        {"id": t0, "body": " Shipped today. ", "action": "REPLY_AND_SOLVE", "to": ["OPERATOR"]},
    )
    queued = body["data"]["reply"]
    [envelope] = gql.publisher.published
    command = envelope.data
    assert queued == {"commandId": command.command_id, "discussionId": t0, "state": "queued"}
    assert (command.body, command.action, command.recipients, command.requested_by) == (
        "Shipped today.",
        ReplyAction.REPLY_AND_SOLVE,
        [ParticipantRole.OPERATOR],
        gql.account_id,
    )
    assert gql.repo.discussions[t0].status is DiscussionStatus.SOLVED


async def test_workflow_mutations(gql: Gql) -> None:
    t1 = discussion("t1").id
    fields = "{ status read tags merchantTicketId }"

    async def mutate(call: str) -> dict[str, Any]:
        body = await gql.run(f"mutation {{ m: {call} {fields} }}".replace("$ID", t1))
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["m"]
        return result

    assert (await mutate('setStatus(discussionId: "$ID", status: PENDING)'))["status"] == "PENDING"
    assert (await mutate('markUnread(discussionId: "$ID")'))["read"] is False
    assert (await mutate('markRead(discussionId: "$ID")'))["read"] is True
    tagged = await mutate('setTags(discussionId: "$ID", tags: ["VIP", "late-delivery", "vip"])')
    assert tagged["tags"] == ["vip", "late-delivery"]
    ticket = 'assignMerchantDiscussionId(discussionId: "$ID", merchantDiscussionId: " ZD-1 ")'
    assert (await mutate(ticket)) == {
        "status": "PENDING",
        "read": True,
        "tags": ["vip", "late-delivery"],
        "merchantTicketId": "ZD-1",
    }
    cleared = 'assignMerchantDiscussionId(discussionId: "$ID", merchantDiscussionId: null)'
    assert (await mutate(cleared))["merchantTicketId"] is None

    refused = await gql.run(
        f'mutation {{ setTags(discussionId: "{t1}", tags: ["no spaces"]) {{ id }} }}'
    )
    assert only_error(refused)["extensions"] == {
        "code": "VALIDATION",
        "field": "tags/0",
        "reason": "invalid_tag",
    }
    assert gql.repo.discussions[t1].tags == ["vip", "late-delivery"]


async def test_resync_queues_a_request(gql: Gql) -> None:
    t2 = discussion("t2").id
    body = await gql.run(f'mutation {{ resync(discussionId: "{t2}") {{ requestId state }} }}')
    [envelope] = gql.publisher.resyncs
    assert body["data"]["resync"] == {"requestId": envelope.data.request_id, "state": "queued"}
    assert envelope.data.requested_by == gql.account_id


async def test_store_outage_and_unexpected_errors_have_codes_without_internals(gql: Gql) -> None:
    gql.publisher.fail = True
    t0 = discussion("t0").id
    down = await gql.run(f'mutation {{ resync(discussionId: "{t0}") {{ requestId }} }}')
    assert only_error(down)["extensions"] == {"code": "SERVICE_UNAVAILABLE"}

    async def explode(*_: object) -> dict[DiscussionStatus, int]:
        raise RuntimeError("mongodb://admin:secret@db exploded")

    gql.repo.count_by_status = explode  # type: ignore[method-assign]
    broken = await gql.run("{ counts { new } }")
    error = only_error(broken)
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["message"].startswith("Something went wrong on our side")
    assert "secret" not in str(broken)


async def test_malformed_queries_are_bad_requests_and_aliases_are_limited(gql: Gql) -> None:
    error = only_error(await gql.run("{ discussions { nope } }"))
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "nope" in error["message"]
    # Aliases would let one request repeat the same work at will.
    many = "{ " + " ".join(f"c{i}: counts {{ new }}" for i in range(40)) + " }"
    body = await gql.run(many)
    assert body["data"] is None
    assert body["errors"][0]["message"] == "40 aliases found. Allowed: 30"
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_a_failed_delivery_is_retried_once(gql: Gql) -> None:
    t0 = discussion("t0").id
    retry = f'mutation {{ retryDelivery(discussionId: "{t0}", commandId: "command-1") '
    retry += "{ commandId retry state } }"
    body = await gql.run(retry)
    assert body["data"]["retryDelivery"] == {
        "commandId": "command-1",
        "retry": 1,
        "state": "queued",
    }
    [envelope] = gql.publisher.published
    assert (envelope.data.command_id, envelope.data.retry) == ("command-1", 1)
    # Asked again before the responder took it: the same command, the same event id.
    assert (await gql.run(retry))["data"]["retryDelivery"]["retry"] == 1
    assert [e.id for e in gql.publisher.published] == [envelope.id] * 2
    gql.deliveries.rows["command-1"].update(state="queued", retry=1)  # the responder took it

    again = only_error(await gql.run(retry))
    assert again["extensions"] == {"code": "CONFLICT", "state": "queued"}
    unknown = only_error(await gql.run(retry.replace("command-1", "command-2")))
    assert unknown["extensions"] == {"code": "NOT_FOUND"}
    theirs = discussion("x0", store_id="store-2").id
    assert only_error(await gql.run(retry.replace(t0, theirs)))["extensions"] == {
        "code": "NOT_FOUND"
    }
    assert len(gql.publisher.published) == 2


async def test_http_level_refusals_are_problem_json(gql: Gql) -> None:
    """Strawberry's own refusals, before any GraphQL runs, answer in the gateway's one
    error shape rather than its plain text."""
    no_query = await gql.client.post("/graphql", json={"variables": {}})
    mutation_by_get = await gql.client.get(
        "/graphql", params={"query": 'mutation { markRead(discussionId: "x") { id } }'}
    )
    for response, says in (
        (no_query, "No GraphQL query found"),
        (mutation_by_get, "mutations are not allowed"),
    ):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 400 and says in problem["detail"]
