"""One conversation through every service, for real.

A buyer writes on a Mirakl marketplace (the sandbox); ingest pulls the thread, the
normalizer builds the discussion, the gateway lists it; the merchant replies through
the gateway; the responder delivers it with M12; the sandbox receives it once; the
normalizer shows it as a sent outbound message, and the next sync does not duplicate it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup
from support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def instance() -> str:
    return f"e2e{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store_id() -> str:
    return f"e2e-store-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def connected(system: ServiceGroup, instance: str, store_id: str) -> str:
    system.activate(
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )
    return instance


async def buyer_writes(
    sandbox: httpx.AsyncClient, instance: str, body: str, thread_id: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body, "sender": "CUSTOMER"}
    if thread_id is None:
        payload |= {
            "customer_name": "Camille Martin",
            "order_id": "ORDER-4711-A",
            "topic": "Livraison",
        }
    else:
        payload["thread_id"] = thread_id
    response = await sandbox.post(f"/_sandbox/mirakl/{instance}/messages", json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def listed(gateway: httpx.AsyncClient, instance: str) -> list[dict[str, Any]]:
    response = await gateway.get("/discussions", params={"marketplace": instance})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def sandbox_replies(sandbox: httpx.AsyncClient, instance: str) -> list[dict[str, Any]]:
    response = await sandbox.get(f"/_sandbox/mirakl/{instance}/replies")
    assert response.status_code == 200, response.text
    replies: list[dict[str, Any]] = response.json()["replies"]
    return replies


async def test_buyer_message_to_reply_and_back(
    connected: str,
    store_id: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    instance = connected
    written = await buyer_writes(sandbox, instance, "Bonjour, où en est ma commande ?")

    async def discussion_listed() -> bool:
        return len(await listed(gateway, instance)) == 1

    await eventually(discussion_listed, timeout=60)
    (item,) = await listed(gateway, instance)
    assert item["store_id"] == store_id
    assert item["thread_id"] == written["thread_id"]
    assert item["status"] == "new" and item["read"] is False
    assert item["type"] == "order" and item["order_id"] == "ORDER-4711-A"

    detail = (await gateway.get(f"/discussions/{item['id']}")).json()
    (first,) = detail["messages"]
    assert first["direction"] == "inbound"
    assert first["body"] == "Bonjour, où en est ma commande ?"
    assert first["sender"]["role"] == "customer"
    assert (await listed(gateway, instance))[0]["read"] is True, "opening marks read"

    reply = await gateway.post(
        f"/discussions/{item['id']}/replies",
        json={
            "body": "Bonjour Camille, elle part demain.",
            "action": "reply_and_pending",
            "recipients": ["customer"],
        },
    )
    assert reply.status_code == 202, reply.text

    async def reply_arrived() -> bool:
        return len(await sandbox_replies(sandbox, instance)) >= 1

    await eventually(reply_arrived, timeout=60)
    (received,) = await sandbox_replies(sandbox, instance)
    assert received["thread_id"] == written["thread_id"]
    assert received["body"] == "Bonjour Camille, elle part demain."
    assert [to["type"] for to in received["to"]] == ["CUSTOMER"]

    async def shown_as_sent() -> bool:
        messages = (await gateway.get(f"/discussions/{item['id']}")).json()["messages"]
        out = [m for m in messages if m["direction"] == "outbound"]
        return len(out) == 1 and (out[0].get("delivery") or {}).get("state") == "sent"

    await eventually(shown_as_sent, timeout=60)
    listed_after = (await listed(gateway, instance))[0]
    assert listed_after["status"] == "pending"

    # Later syncs bring our reply back from the marketplace: still one of it. The
    # barrier: the buyer writes again in the thread; once that shows, a sync that
    # also listed our reply has been processed.
    later = "Merci, et pour la facture ?"
    await buyer_writes(sandbox, instance, later, thread_id=written["thread_id"])

    async def later_shown() -> bool:
        messages = (await gateway.get(f"/discussions/{item['id']}")).json()["messages"]
        return any(m["body"] == later for m in messages)

    await eventually(later_shown, timeout=60)
    messages = (await gateway.get(f"/discussions/{item['id']}")).json()["messages"]
    assert [m["direction"] for m in messages] == ["inbound", "outbound", "inbound"]
    assert len(await sandbox_replies(sandbox, instance)) == 1


async def test_html_reply_is_refused_and_never_reaches_the_marketplace(
    connected: str, gateway: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    instance = connected
    await buyer_writes(sandbox, instance, "Hello, is it in stock?")

    async def discussion_listed() -> bool:
        return len(await listed(gateway, instance)) == 1

    await eventually(discussion_listed, timeout=60)
    (item,) = await listed(gateway, instance)
    response = await gateway.post(
        f"/discussions/{item['id']}/replies", json={"body": "<p>Yes, <b>in stock</b></p>"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "plain text" in response.json()["detail"]
    # The barrier: a plain reply to the same discussion, delivered after anything
    # queued before it. Only it reaches the marketplace.
    plain = await gateway.post(f"/discussions/{item['id']}/replies", json={"body": "Yes."})
    assert plain.status_code == 202, plain.text

    async def plain_arrived() -> bool:
        return len(await sandbox_replies(sandbox, instance)) >= 1

    await eventually(plain_arrived, timeout=60)
    assert [r["body"] for r in await sandbox_replies(sandbox, instance)] == ["Yes."]
