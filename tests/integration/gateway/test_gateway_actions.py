"""Filters, counts, workflow actions, resync and API keys on the real MongoDB-compatible
server and Kafka, and tenant isolation between two accounts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sys
import uuid
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import PEPPER, ClientFactory
from integration.gateway.documents import discussion_doc
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import Record, TopicProbe

from parley_gateway.accounts import AccessService
from parley_gateway.config import GatewaySettings
from parley_schemas import (
    CONVERSATION_COMMANDS,
    INGEST_COMMANDS,
    RESYNC_REQUESTED,
    ResyncRequest,
)
from parley_store import API_KEYS, DISCUSSIONS

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


async def insert(db: AsyncDatabase[Any], *docs: dict[str, Any]) -> None:
    await db[DISCUSSIONS].insert_many(list(docs))


async def threads(gateway: httpx.AsyncClient, params: Any) -> list[str]:
    response = await gateway.get("/discussions", params=params)
    assert response.status_code == 200, response.text
    return [i["thread_id"] for i in response.json()["items"]]


async def stored(db: AsyncDatabase[Any], discussion_id: str) -> dict[str, Any]:
    doc = await db[DISCUSSIONS].find_one({"_id": discussion_id})
    assert doc is not None
    return doc


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def inbox(gateway_db: AsyncDatabase[Any], store_id: str) -> dict[str, dict[str, Any]]:
    """Six discussions of one store, minutes 1..6 apart, varied on every filtered field."""
    docs = {
        d["thread_id"]: d
        for d in (
            discussion_doc(
                store_id,
                "order-a",
                minutes=1,
                order_id="ORD-1",
                subject="Où est mon colis ?",
                customer=("Ana Silva", "ana.silva@example.com"),
            ),
            discussion_doc(
                store_id,
                "order-b",
                minutes=2,
                status="open",
                order_id="ORD-2",
                subject="Colis abîmé",
                customer=("Bruno Costa", "b.costa@mail.test"),
            ),
            discussion_doc(
                store_id,
                "product-a",
                minutes=3,
                type="product",
                status="open",
                subject="Taille (EU) du modèle?",
                customer=("Chloé Martin", None),
            ),
            discussion_doc(
                store_id,
                "other-a",
                minutes=4,
                type="other",
                status="solved",
                read=True,
                subject="Facture [urgent]",
                customer=(None, "dupont+shop@example.com"),
            ),
            discussion_doc(
                store_id,
                "order-c",
                minutes=5,
                order_id="ORD-1",
                status="pending",
                subject="Retour",
                customer=("ana lopez", "al@example.org"),
            ),
            discussion_doc(
                store_id, "undated", minutes=None, subject="Sans message", customer=("Zoé", None)
            ),
        )
    }
    await insert(gateway_db, *docs.values())
    return docs


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "product"}, ["product-a"]),
        (
            [("type", "order"), ("type", "other")],
            ["order-c", "other-a", "order-b", "order-a", "undated"],
        ),
        ({"order_id": "ORD-1"}, ["order-c", "order-a"]),
        ([("order_id", "ORD-1"), ("order_id", "ORD-2")], ["order-c", "order-b", "order-a"]),
        ({"order_id": "ord-1"}, []),  # order ids are exact
        ({"participant": "ANA"}, ["order-c", "order-a"]),  # names, any case
        ({"participant": "costa@mail"}, ["order-b"]),  # emails
        ({"participant": "+shop@"}, ["other-a"]),  # a regex metacharacter, literally
        (
            {"participant": "carrefour"},  # the operator takes part in every discussion
            ["order-c", "other-a", "product-a", "order-b", "order-a", "undated"],
        ),
        ({"participant": "a.a"}, []),  # "." is not a wildcard
        ({"subject": "colis"}, ["order-b", "order-a"]),
        ({"subject": "(eu)"}, ["product-a"]),
        ({"subject": "[urgent]"}, ["other-a"]),
        ({"subject": "?"}, ["product-a", "order-a"]),
        ({"since": "2026-06-01T08:04:00Z"}, ["order-c", "other-a"]),
        ({"until": "2026-06-01T08:02:00Z"}, ["order-a"]),
        (
            {"since": "2026-06-01T10:02:00+02:00", "until": "2026-06-01T08:04:00Z"},
            ["product-a", "order-b"],
        ),
        ({"type": "order", "status": "new", "participant": "silva"}, ["order-a"]),
    ],
)
async def test_every_filter(
    gateway: httpx.AsyncClient,
    inbox: dict[str, dict[str, Any]],
    params: Any,
    expected: list[str],
) -> None:
    assert await threads(gateway, params) == expected


async def test_cross_store_view_stays_within_the_accounts_stores(
    gateway_as: ClientFactory, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    second, foreign = f"{store_id}-2", f"{store_id}-foreign"
    await insert(
        gateway_db,
        discussion_doc(store_id, "one", minutes=1),
        discussion_doc(second, "two", minutes=2),
        discussion_doc(foreign, "three", minutes=3),
    )
    gateway, _ = await gateway_as(store_id, second)
    assert await threads(gateway, {}) == ["two", "one"]
    cross = [("store_id", store_id), ("store_id", second), ("store_id", foreign)]
    assert await threads(gateway, cross) == ["two", "one"]
    assert await threads(gateway, {"store_id": second}) == ["two"]
    assert await threads(gateway, {"store_id": foreign}) == []


async def test_counts_per_status_under_the_filters(
    gateway: httpx.AsyncClient, inbox: dict[str, dict[str, Any]]
) -> None:
    async def counts(params: Any) -> dict[str, int]:
        response = await gateway.get("/discussions/counts", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, int] = response.json()
        # No discussion of this inbox expects a reply (no reply_due_at stored).
        assert body.pop("at_risk") == 0
        assert body.pop("at_risk_before")  # a moment that moves with the clock
        return body

    assert await counts({}) == {"new": 2, "open": 2, "pending": 1, "solved": 1, "closed": 0}
    # The status filter of the list is ignored: the tabs show every status.
    assert await counts({"status": "solved"}) == await counts({})
    assert await counts({"type": "order"}) == {
        "new": 2,
        "open": 1,
        "pending": 1,
        "solved": 0,
        "closed": 0,
    }
    assert await counts({"subject": "colis", "read": "false"}) == {
        "new": 1,
        "open": 1,
        "pending": 0,
        "solved": 0,
        "closed": 0,
    }
    assert await counts({"since": "2026-06-01T08:03:00Z"}) == {
        "new": 0,
        "open": 1,
        "pending": 1,
        "solved": 1,
        "closed": 0,
    }


async def test_pages_with_filters_cover_every_match_once(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    # Matches and non-matches interleaved, with ties on last_message_at.
    docs = [
        discussion_doc(
            store_id,
            f"t{i:02d}",
            minutes=i // 3,
            type="product" if i % 2 else "order",
            subject=f"Question {i} sur le colis" if i % 3 else f"Question {i}",
        )
        for i in range(30)
    ]
    await insert(gateway_db, *docs)
    wanted = [d for d in docs if d["type"] == "product" and "colis" in d["subject"]]
    expected = [
        d["_id"]
        for d in sorted(wanted, key=lambda d: (d["last_message_at"], d["_id"]), reverse=True)
    ]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"type": "product", "subject": "COLIS", "limit": 4}
        if cursor:
            params["cursor"] = cursor
        response = await gateway.get("/discussions", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert len(expected) == 10


async def test_patch_sets_only_workflow_fields(
    gateway: httpx.AsyncClient, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    doc = discussion_doc(store_id, "t1", minutes=1)
    await insert(gateway_db, doc)
    response = await gateway.patch(
        f"/discussions/{doc['_id']}",
        json={
            "status": "pending",
            "read": True,
            "merchant_ticket_id": "ZD-4821",
            "tags": ["late-delivery", "VIP"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["read"], body["merchant_ticket_id"], body["tags"]) == (
        "pending",
        True,
        "ZD-4821",
        ["late-delivery", "vip"],
    )
    after = await stored(gateway_db, doc["_id"])
    workflow = {"status", "read", "merchant_ticket_id", "tags"}
    assert {k: after[k] for k in workflow} == {
        "status": "pending",
        "read": True,
        "merchant_ticket_id": "ZD-4821",
        "tags": ["late-delivery", "vip"],
    }
    assert {k: v for k, v in after.items() if k not in workflow} == {
        k: v for k, v in doc.items() if k not in workflow
    }

    # Mark unread and drop the ticket id; the rest stays.
    again = await gateway.patch(
        f"/discussions/{doc['_id']}", json={"read": False, "merchant_ticket_id": None}
    )
    assert again.status_code == 200, again.text
    after = await stored(gateway_db, doc["_id"])
    assert (after["read"], after["merchant_ticket_id"], after["status"]) == (
        False,
        None,
        "pending",
    )
    assert after["tags"] == ["late-delivery", "vip"]

    refused = await gateway.patch(f"/discussions/{doc['_id']}", json={"status": "archived"})
    assert_problem(refused, 422)
    assert (await stored(gateway_db, doc["_id"]))["status"] == "pending"


async def test_bulk_status_reports_each_id(
    gateway_as: ClientFactory, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    other = f"{store_id}-other"
    mine = [discussion_doc(store_id, f"t{i}", minutes=i) for i in range(3)]
    theirs = discussion_doc(other, "theirs")
    await insert(gateway_db, *mine, theirs)
    gateway, _ = await gateway_as(store_id)
    ids = [mine[0]["_id"], theirs["_id"], "does-not-exist", mine[2]["_id"], mine[0]["_id"]]

    response = await gateway.post("/discussions/bulk-status", json={"ids": ids, "status": "closed"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "closed",
        "updated": 2,
        "results": [
            {"id": mine[0]["_id"], "outcome": "updated"},
            {"id": theirs["_id"], "outcome": "not_found"},
            {"id": "does-not-exist", "outcome": "not_found"},
            {"id": mine[2]["_id"], "outcome": "updated"},
        ],
    }
    statuses = {
        d["thread_id"]: d["status"]
        async for d in gateway_db[DISCUSSIONS].find({"store_id": {"$in": [store_id, other]}})
    }
    assert statuses == {"t0": "closed", "t1": "new", "t2": "closed", "theirs": "new"}


def _resync_of(record: Record) -> ResyncRequest | None:
    envelope = record.envelope()
    if envelope.type != RESYNC_REQUESTED.name:
        return None
    assert isinstance(envelope.data, ResyncRequest)
    return envelope.data


async def test_resync_puts_a_request_on_the_ingest_commands_topic(
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    doc = discussion_doc(store_id, "thread:with:colons")
    await insert(gateway_db, doc)
    gateway, account_id = await gateway_as(store_id)
    async with TopicProbe(kafka_bootstrap, INGEST_COMMANDS) as probe:
        response = await gateway.post(f"/discussions/{doc['_id']}/resync")
        assert response.status_code == 202, response.text
        assert response.headers["location"] == f"/discussions/{doc['_id']}"
        request_id = response.json()["request_id"]
        [record] = await probe.wait_for(
            lambda r: (q := _resync_of(r)) is not None and q.request_id == request_id
        )
    assert record.key == f"{store_id}:carrefour:thread:with:colons".encode()
    envelope = record.envelope()
    assert envelope.source == "/parley/gateway"
    assert envelope.subject == doc["key"]
    request = envelope.data
    assert isinstance(request, ResyncRequest)
    assert (request.store_id, request.marketplace, request.thread_id) == (
        store_id,
        "carrefour",
        "thread:with:colons",
    )
    assert request.requested_by == account_id
    assert "traceparent" in record.headers


async def test_api_keys_are_stored_only_as_peppered_digests(
    access: AccessService, gateway_db: AsyncDatabase[Any], store_id: str
) -> None:
    account, _ = await access.create_account("Digest check", [store_id])
    issued = await access.issue_key(account.id, name="erp")
    doc = await gateway_db[API_KEYS].find_one({"_id": issued.stored.key_id})
    assert doc is not None
    assert issued.secret not in str(doc)
    secret_part = issued.secret.split("_", 2)[2]
    assert secret_part not in str(doc)
    assert doc["account_id"] == account.id
    assert doc["digest"] == (
        hmac.new(PEPPER.encode(), issued.secret.encode(), hashlib.sha256).hexdigest()
    )
    # Nowhere else in the database either.
    for name in await gateway_db.list_collection_names():
        async for any_doc in gateway_db[name].find({}):
            assert secret_part not in str(any_doc), name


async def run_cli(settings: GatewaySettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "MONGODB_DATABASE": settings.mongodb_database,
        "API_KEY_PEPPER": PEPPER,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "parley_cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip(), err.decode().strip()


async def test_cli_keys_work_until_revoked(
    gateway_settings: GatewaySettings,
    anonymous: httpx.AsyncClient,
    gateway_db: AsyncDatabase[Any],
    store_id: str,
) -> None:
    doc = discussion_doc(store_id, "t1")
    await insert(gateway_db, doc)
    account_id = f"acc-{uuid.uuid4().hex[:8]}"
    code, out, err = await run_cli(
        gateway_settings,
        "accounts",
        "create",
        "--id",
        account_id,
        "--name",
        "CLI",
        "--store",
        store_id,
    )
    assert (code, out) == (0, account_id), err
    # Provisioning again with the same definition is a no-op; another one is refused.
    again = await run_cli(
        gateway_settings,
        "accounts",
        "create",
        "--id",
        account_id,
        "--name",
        "CLI",
        "--store",
        store_id,
    )
    assert again[:2] == (0, account_id)
    changed = await run_cli(
        gateway_settings, "accounts", "create", "--id", account_id, "--name", "CLI", "--store", "x"
    )
    assert changed[0] == 1 and "refused" in changed[2]
    assert (await run_cli(gateway_settings, "keys", "create", "--account", "nope"))[0] == 1

    code, key, err = await run_cli(gateway_settings, "keys", "create", "--account", account_id)
    assert code == 0, err
    assert key.startswith("prl_") and key not in err
    headers = {"Authorization": f"Bearer {key}"}
    listed = await anonymous.get("/discussions", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["items"]] == [doc["_id"]]
    assert (await anonymous.get("/discussions", headers={"X-API-Key": key})).status_code == 200

    code, _, err = await run_cli(gateway_settings, "keys", "revoke", key.split("_")[1])
    assert code == 0, err
    refused = await anonymous.get("/discussions", headers=headers)
    assert_problem(refused, 401)
    assert refused.headers["www-authenticate"] == 'Bearer realm="parley", error="invalid_token"'
    assert (await run_cli(gateway_settings, "keys", "revoke", "000000000000"))[0] == 1


async def test_requests_without_a_valid_key_are_refused(anonymous: httpx.AsyncClient) -> None:
    for path in ("/health", "/ready", "/openapi.json", "/docs"):
        assert (await anonymous.get(path)).status_code == 200, path
    missing = assert_problem(await anonymous.get("/discussions"), 401)
    assert missing["instance"] == "/discussions"
    forged = {"Authorization": "Bearer prl_0123456789ab_" + "A" * 43}
    assert_problem(await anonymous.get("/discussions/counts", headers=forged), 401)


async def test_tenant_isolation(
    gateway_as: ClientFactory,
    gateway_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    """Account A never lists, counts, reads, changes, answers or resyncs B's discussions;
    for A they do not exist (404, never 403)."""
    store_b = f"{store_id}-b"
    a_doc = discussion_doc(store_id, "shared-thread", minutes=1, order_id="ORD-9")
    b_doc = discussion_doc(store_b, "shared-thread", minutes=2, order_id="ORD-9")
    await insert(gateway_db, a_doc, b_doc)
    a, _ = await gateway_as(store_id)
    b, _ = await gateway_as(store_b)
    b_id = b_doc["_id"]

    # List and counts, with and without asking for B's store.
    assert await threads(a, {}) == ["shared-thread"]
    assert [i["id"] for i in (await a.get("/discussions")).json()["items"]] == [a_doc["_id"]]
    assert await threads(a, {"store_id": store_b}) == []
    assert await threads(a, {"order_id": "ORD-9", "participant": "ana"}) == ["shared-thread"]
    counts = (await a.get("/discussions/counts", params={"store_id": store_b})).json()
    assert counts.pop("at_risk_before")  # the window's cutoff: a moment, not a count
    assert set(counts.values()) == {0}
    assert (await a.get("/discussions/counts")).json()["new"] == 1

    async with (
        TopicProbe(kafka_bootstrap, CONVERSATION_COMMANDS) as replies,
        TopicProbe(kafka_bootstrap, INGEST_COMMANDS) as resyncs,
    ):
        unknown = f"/discussions/{uuid.uuid4().hex}"
        for method, suffix, body in (
            ("GET", "", None),
            ("PATCH", "", {"status": "closed", "tags": ["x"], "merchant_ticket_id": "T"}),
            ("POST", "/replies", {"body": "Not yours", "action": "reply_and_solve"}),
            ("POST", "/resync", None),
        ):
            theirs = await a.request(method, f"/discussions/{b_id}{suffix}", json=body)
            problem = assert_problem(theirs, 404)
            nowhere = assert_problem(await a.request(method, unknown + suffix, json=body), 404)
            assert (problem["type"], problem["title"]) == (nowhere["type"], nowhere["title"])

        bulk = await a.post("/discussions/bulk-status", json={"ids": [b_id], "status": "closed"})
        assert bulk.status_code == 200, bulk.text
        assert bulk.json()["results"] == [{"id": b_id, "outcome": "not_found"}]

        seen = await replies.drain(2.0) + await resyncs.drain(1.0)

    about_b = [r for r in seen if r.key == b_doc["key"].encode()]
    assert about_b == []
    assert await stored(gateway_db, b_id) == b_doc  # not even marked read

    # B still sees and may act on its own discussion.
    assert (await b.get(f"/discussions/{b_id}")).status_code == 200
    assert (await b.patch(f"/discussions/{b_id}", json={"status": "open"})).status_code == 200
    assert (await stored(gateway_db, a_doc["_id"]))["status"] == "new"
