"""GraphQL and attachment downloads on the real MongoDB-compatible server and Kafka:
the same filters, pages and actions as REST (one service layer), and tenant isolation
through GraphQL too."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import ClientFactory
from integration.gateway.documents import discussion_doc, inbound_doc
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe

from parley_schemas import (
    CONVERSATION_COMMANDS,
    INGEST_COMMANDS,
    REPLY_REQUESTED,
    ReplyCommand,
)
from parley_store import DISCUSSIONS, MESSAGES, GridFsFileStore

pytestmark = pytest.mark.integration


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def stored(db: AsyncDatabase[Any], discussion_id: str) -> dict[str, Any]:
    doc = await db[DISCUSSIONS].find_one({"_id": discussion_id})
    assert doc is not None
    return doc


LIST = """
query($f: DiscussionFilter, $first: Int! = 25, $after: String) {
  discussions(filters: $f, first: $first, after: $after) { items { id threadId } nextCursor }
}"""


@pytest.fixture
async def inbox(gateway_db: AsyncDatabase[Any], store_id: str) -> list[dict[str, Any]]:
    docs = [
        discussion_doc(store_id, "order-a", minutes=1, order_id="ORD-1", subject="Colis perdu"),
        discussion_doc(
            store_id,
            "order-b",
            minutes=2,
            status="open",
            order_id="ORD-2",
            customer=("Bruno Costa", "b.costa@mail.test"),
        ),
        discussion_doc(store_id, "product-a", minutes=3, type="product", read=True),
        discussion_doc(store_id, "other-a", minutes=4, type="other", marketplace="fnac"),
    ]
    await gateway_db[DISCUSSIONS].insert_many(docs)
    return docs


@pytest.mark.parametrize(
    ("rest", "graphql", "expected"),
    [
        ({}, {}, ["other-a", "product-a", "order-b", "order-a"]),
        ({"status": "open"}, {"status": ["OPEN"]}, ["order-b"]),
        ({"type": "product"}, {"type": ["PRODUCT"]}, ["product-a"]),
        ({"marketplace": "fnac"}, {"marketplace": ["fnac"]}, ["other-a"]),
        ({"read": "true"}, {"read": True}, ["product-a"]),
        ({"order_id": "ORD-2"}, {"orderId": ["ORD-2"]}, ["order-b"]),
        ({"participant": "COSTA@"}, {"participant": "COSTA@"}, ["order-b"]),
        ({"subject": "perdu"}, {"subject": "perdu"}, ["order-a"]),
        (
            {"since": "2026-06-01T08:02:00Z", "until": "2026-06-01T08:04:00Z"},
            {"since": "2026-06-01T08:02:00Z", "until": "2026-06-01T08:04:00Z"},
            ["product-a", "order-b"],
        ),
    ],
)
async def test_graphql_filters_answer_what_rest_answers(
    gateway: httpx.AsyncClient,
    inbox: list[dict[str, Any]],
    store_id: str,
    rest: dict[str, str],
    graphql: dict[str, Any],
    expected: list[str],
) -> None:
    response = await gateway.get("/discussions", params=rest)
    assert [i["thread_id"] for i in response.json()["items"]] == expected
    listed = data(await gql(gateway, LIST, {"f": {**graphql, "storeIds": [store_id]}}))
    assert [i["threadId"] for i in listed["discussions"]["items"]] == expected


async def test_graphql_pages_and_counts(
    gateway: httpx.AsyncClient, inbox: list[dict[str, Any]]
) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(5):
        page = data(await gql(gateway, LIST, {"first": 3, "after": after}))["discussions"]
        seen += [i["threadId"] for i in page["items"]]
        after = page["nextCursor"]
        if after is None:
            break
    assert seen == ["other-a", "product-a", "order-b", "order-a"]
    query = "{ counts { new open pending solved closed atRisk atRiskBefore } }"
    counts = data(await gql(gateway, query))["counts"]
    graphql_cutoff = datetime.fromisoformat(counts.pop("atRiskBefore"))
    assert counts == {"new": 3, "open": 1, "pending": 0, "solved": 0, "closed": 0, "atRisk": 0}
    rest = (await gateway.get("/discussions/counts")).json()
    rest_cutoff = datetime.fromisoformat(rest.pop("at_risk_before"))
    assert rest == {**{k: v for k, v in counts.items() if k != "atRisk"}, "at_risk": 0}
    # Both report the same window (asked a moment apart).
    assert timedelta(0) <= rest_cutoff - graphql_cutoff < timedelta(minutes=1)


async def test_graphql_actions_change_only_workflow_fields(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], inbox: list[dict[str, Any]]
) -> None:
    doc = inbox[0]
    did = doc["_id"]
    opened = data(
        await gql(gateway, "query($id: ID!) { discussion(id: $id) { read } }", {"id": did})
    )
    assert opened["discussion"]["read"] is True
    assert (await stored(gateway_db, did))["read"] is True

    mutation = """
    mutation($id: ID!) {
      unread: markUnread(discussionId: $id) { read }
      status: setStatus(discussionId: $id, status: PENDING) { status }
      tags: setTags(discussionId: $id, tags: ["Late-Delivery"]) { tags }
      ticket: assignMerchantDiscussionId(discussionId: $id, merchantDiscussionId: "ZD-77") {
        merchantTicketId
      }
    }"""
    changed = data(await gql(gateway, mutation, {"id": did}))
    assert changed == {
        "unread": {"read": False},
        "status": {"status": "PENDING"},
        "tags": {"tags": ["late-delivery"]},
        "ticket": {"merchantTicketId": "ZD-77"},
    }
    after = await stored(gateway_db, did)
    workflow = {"status", "read", "merchant_ticket_id", "tags"}
    assert {k: after[k] for k in workflow} == {
        "status": "pending",
        "read": False,
        "merchant_ticket_id": "ZD-77",
        "tags": ["late-delivery"],
    }
    assert {k: v for k, v in after.items() if k not in workflow} == {
        k: v for k, v in doc.items() if k not in workflow
    }
    # The same ticket id is what REST shows.
    assert (await gateway.get(f"/discussions/{did}")).json()["merchant_ticket_id"] == "ZD-77"

    bulk = data(
        await gql(
            gateway,
            "mutation($ids: [ID!]!) { bulkSetStatus(ids: $ids, status: CLOSED) "
            "{ updated results { id outcome } } }",
            {"ids": [inbox[1]["_id"], "nope", inbox[2]["_id"]]},
        )
    )
    assert bulk["bulkSetStatus"] == {
        "updated": 2,
        "results": [
            {"id": inbox[1]["_id"], "outcome": "UPDATED"},
            {"id": "nope", "outcome": "NOT_FOUND"},
            {"id": inbox[2]["_id"], "outcome": "UPDATED"},
        ],
    }
    assert (await stored(gateway_db, inbox[2]["_id"]))["status"] == "closed"
    assert (await stored(gateway_db, inbox[3]["_id"]))["status"] == "new"


async def test_graphql_reply_is_queued_on_kafka(
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    doc = discussion_doc(store_id, "t1")
    await gateway_db[DISCUSSIONS].insert_one(doc)
    gateway, account_id = await gateway_as(store_id)
    async with TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as probe:
        body = data(
            await gql(
                gateway,
                'mutation($id: ID!) { reply(discussionId: $id, body: "Shipped.", '
                "action: REPLY_AND_SOLVE) { commandId } }",
                {"id": doc["_id"]},
            )
        )
        command_id = body["reply"]["commandId"]

        def is_ours(record: Any) -> bool:
            envelope = record.envelope()
            return envelope.type == REPLY_REQUESTED.name and envelope.data.command_id == command_id

        [record] = await probe.wait_for(is_ours)
    command = record.envelope().data
    assert isinstance(command, ReplyCommand)
    assert (command.body, command.requested_by) == ("Shipped.", account_id)
    assert record.key == doc["key"].encode()
    assert (await stored(gateway_db, doc["_id"]))["status"] == "solved"


async def test_graphql_tenant_isolation(
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    """Through GraphQL too, account A never lists, counts, reads, changes, answers or
    resyncs B's discussions: for A they do not exist."""
    store_b = f"{store_id}-b"
    a_doc = discussion_doc(store_id, "shared", minutes=1, order_id="ORD-9")
    b_doc = discussion_doc(store_b, "shared", minutes=2, order_id="ORD-9")
    await gateway_db[DISCUSSIONS].insert_many([a_doc, b_doc])
    a, _ = await gateway_as(store_id)
    b, _ = await gateway_as(store_b)
    b_id = b_doc["_id"]

    for filters in ({}, {"storeIds": [store_b]}, {"orderId": ["ORD-9"]}):
        listed = data(await gql(a, LIST, {"f": filters}))["discussions"]["items"]
        assert b_id not in [i["id"] for i in listed]
    counts = data(
        await gql(
            a,
            "query($f: DiscussionFilter) { counts(filters: $f) { new } }",
            {"f": {"storeIds": [store_b]}},
        )
    )
    assert counts["counts"]["new"] == 0

    async with (
        TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as replies,
        TopicProbe(kafka_bootstrap, INGEST_COMMANDS) as resyncs,
    ):
        for operation in (
            "query($id: ID!) { discussion(id: $id) { id } }",
            "mutation($id: ID!) { markRead(discussionId: $id) { id } }",
            "mutation($id: ID!) { setStatus(discussionId: $id, status: CLOSED) { id } }",
            'mutation($id: ID!) { setTags(discussionId: $id, tags: ["x"]) { id } }',
            "mutation($id: ID!) { assignMerchantDiscussionId(discussionId: $id, "
            'merchantDiscussionId: "T") { id } }',
            'mutation($id: ID!) { reply(discussionId: $id, body: "Not yours") { commandId } }',
            "mutation($id: ID!) { resync(discussionId: $id) { requestId } }",
        ):
            theirs = await gql(a, operation, {"id": b_id})
            nowhere = await gql(a, operation, {"id": uuid.uuid4().hex})
            assert codes(theirs) == codes(nowhere) == ["NOT_FOUND"], operation
        bulk = data(
            await gql(
                a,
                "mutation($ids: [ID!]!) { bulkSetStatus(ids: $ids, status: CLOSED) "
                "{ results { outcome } } }",
                {"ids": [b_id]},
            )
        )
        assert bulk["bulkSetStatus"]["results"] == [{"outcome": "NOT_FOUND"}]
        seen = await replies.drain(2.0) + await resyncs.drain(1.0)

    assert [r for r in seen if r.key == b_doc["key"].encode()] == []
    assert await stored(gateway_db, b_id) == b_doc  # not even marked read
    mine = data(await gql(b, "query($id: ID!) { discussion(id: $id) { id } }", {"id": b_id}))
    assert mine["discussion"]["id"] == b_id


async def test_attachments_download_only_through_their_discussion(
    gateway_as: ClientFactory, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    store_b = f"{store_id}-b"
    a_doc = discussion_doc(store_id, "with-file", minutes=1)
    a_other = discussion_doc(store_id, "without-file", minutes=2)
    b_doc = discussion_doc(store_b, "theirs", minutes=3)
    await gateway_db[DISCUSSIONS].insert_many([a_doc, a_other, b_doc])
    files = GridFsFileStore(gateway_db)
    content = bytes(range(256)) * 2048  # 512 KiB: several GridFS chunks
    a_file = await files.save(f"{store_id}:f", "ignored.bin", "application/pdf", content)
    b_file = await files.save(f"{store_b}:f", "theirs.pdf", "application/pdf", b"secret")
    a_msg = inbound_doc(a_doc["_id"], "m1", 1, "Here is the invoice")
    a_msg["attachments"] = [
        {
            "name": "Facture n°7.pdf",
            "size": len(content),
            "content_type": "application/pdf",
            "file_id": a_file,
        }
    ]
    b_msg = inbound_doc(b_doc["_id"], "m1", 1, "Theirs")
    b_msg["attachments"][0]["file_id"] = b_file
    await gateway_db[MESSAGES].insert_many([a_msg, b_msg])
    a, _ = await gateway_as(store_id)

    detail = (await a.get(f"/discussions/{a_doc['_id']}")).json()
    url = detail["messages"][0]["attachments"][0]["download_url"]
    assert url == f"/discussions/{a_doc['_id']}/attachments/{a_file}"
    downloaded = await a.get(url)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == content
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-disposition"] == (
        "attachment; filename=\"Facture n?7.pdf\"; filename*=UTF-8''Facture%20n%C2%B07.pdf"
    )
    graph = data(
        await gql(
            a,
            "query($id: ID!) { discussion(id: $id) { messages { attachments { url } } } }",
            {"id": a_doc["_id"]},
        )
    )
    assert graph["discussion"]["messages"][0]["attachments"] == [{"url": url}]

    for path in (
        f"/discussions/{a_other['_id']}/attachments/{a_file}",  # not this discussion's
        f"/discussions/{a_doc['_id']}/attachments/{b_file}",  # another account's file
        f"/discussions/{b_doc['_id']}/attachments/{b_file}",  # another account's discussion
        f"/discussions/{a_doc['_id']}/attachments/000000000000000000000000",
    ):
        refused = await a.get(path)
        assert refused.status_code == 404, path
        assert refused.headers["content-type"] == "application/problem+json"
        assert b"secret" not in refused.content
