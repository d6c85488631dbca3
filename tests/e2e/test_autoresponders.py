"""Autoresponders (F19) through the whole system, for real.

The merchant enables the autoresponder of a Mirakl store through the gateway; a buyer
writes on the marketplace (the sandbox); ingest pulls it, the normalizer announces
the message on Kafka, the responder answers it through the marketplace's API once,
and mails the copy to the shop through the SMTP relay (the sandbox's sink). A second
buyer message gets nothing, nor does a thread the merchant already answered.

Isolation as in test_families: each test has its own store, sandbox instance and
notification addresses, so the sink's mails and the sandbox's replies are its own.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import SANDBOX_API_KEY, ServiceGroup
from support.barriers import pipeline_settled
from support.waiting import eventually

pytestmark = pytest.mark.e2e

SYNC_INTERVAL_SECONDS = 2
TIMEOUT = 60.0
TEMPLATE = "Hello {buyer_name}, we got your message about {order_id}. {shop_name}"


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store_id(suffix: str) -> str:
    return f"e2e-auto-{suffix}"


@pytest.fixture
def instance(suffix: str) -> str:
    return f"e2eauto{suffix}"


@pytest.fixture
def shop_address(suffix: str) -> str:
    return f"shop-{suffix}@example.com"


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def enable(
    gateway: httpx.AsyncClient, store_id: str, instance: str, shop_address: str, suffix: str
) -> dict[str, Any]:
    return ok(
        await gateway.put(
            f"/autoresponders/{store_id}/{instance}/messages",
            json={
                "enabled": True,
                "template": TEMPLATE,
                "shop_name": "Boutique E2E",
                "sender_name": "Service client",
                "notify_shop_address": shop_address,
                "notify_extra_address": f"boss-{suffix}@example.com",
            },
        )
    )


def activate(system: ServiceGroup, store_id: str, instance: str) -> None:
    system.activate_family(
        "mirakl",
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=SYNC_INTERVAL_SECONDS,
    )


async def buyer_writes(
    sandbox: httpx.AsyncClient, instance: str, body: str, thread_id: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body, "sender": "CUSTOMER"}
    if thread_id is None:
        payload |= {"customer_name": "Camille Martin", "order_id": f"ORDER-{instance}-A"}
    else:
        payload["thread_id"] = thread_id
    return ok(await sandbox.post(f"/_sandbox/mirakl/{instance}/messages", json=payload), 201)


async def sandbox_replies(sandbox: httpx.AsyncClient, instance: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(await sandbox.get(f"/_sandbox/mirakl/{instance}/replies"))[
        "replies"
    ]
    return found


async def mails_to(sandbox: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(
        await sandbox.get("/_sandbox/email/outbox", params={"to": address})
    )["mails"]
    return found


async def discussion_messages(
    gateway: httpx.AsyncClient, store_id: str, until: Any
) -> list[dict[str, Any]]:
    """The store's one discussion's messages, once ``until(messages)`` holds."""
    messages: list[dict[str, Any]] = []

    async def reached() -> bool:
        page = ok(await gateway.get("/discussions", params={"store_id": store_id}))
        if not page["items"]:
            return False
        (item,) = page["items"]
        messages[:] = ok(await gateway.get(f"/discussions/{item['id']}"))["messages"]
        return bool(until(messages))

    await eventually(reached, timeout=TIMEOUT)
    return messages


def outbound_sent(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m["direction"] == "outbound" and (m.get("delivery") or {}).get("state") == "sent"
    ]


async def test_first_buyer_message_gets_one_autoresponse_and_the_shop_a_copy(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    suffix: str,
    shop_address: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    setting = await enable(gateway, store_id, instance, shop_address, suffix)
    assert setting["enabled"] and setting["saved"]

    # The test send reaches the shop's address through the SMTP sink.
    tested = ok(await gateway.post(f"/autoresponders/{store_id}/{instance}/messages/test"))
    assert tested["sent_to"] == [shop_address, f"boss-{suffix}@example.com"]

    async def test_mail_arrived() -> bool:
        return any(m["subject"].startswith("[Test]") for m in await mails_to(sandbox, shop_address))

    await eventually(test_mail_arrived, timeout=TIMEOUT)

    activate(system, store_id, instance)
    written = await buyer_writes(sandbox, instance, "Bonjour, où en est ma commande ?")
    expected = f"Hello Camille Martin, we got your message about ORDER-{instance}-A. Boutique E2E"

    async def replied() -> bool:
        return len(await sandbox_replies(sandbox, instance)) >= 1

    await eventually(replied, timeout=TIMEOUT)
    messages = await discussion_messages(gateway, store_id, outbound_sent)
    (outbound,) = outbound_sent(messages)
    assert outbound["body"] == expected
    assert outbound["recipients"] == ["customer"]

    # The shop's copy, to both addresses, once.
    async def copies() -> list[dict[str, Any]]:
        return [
            m
            for m in await mails_to(sandbox, shop_address)
            if m["subject"].startswith("Autoresponse sent")
        ]

    async def copy_arrived() -> bool:
        return len(await copies()) >= 1

    await eventually(copy_arrived, timeout=TIMEOUT)

    # The buyer writes again in the same thread: recorded, but not autoresponded.
    second = "Je précise : commande passée lundi."
    await buyer_writes(sandbox, instance, second, thread_id=written["thread_id"])
    await discussion_messages(gateway, store_id, lambda ms: any(m["body"] == second for m in ms))
    await pipeline_settled(system.env, timeout=TIMEOUT)

    (reply,) = await sandbox_replies(sandbox, instance)
    assert reply["thread_id"] == written["thread_id"]
    assert reply["body"] == expected
    assert [p["type"] for p in reply["to"]] == ["CUSTOMER"]
    (copy,) = await copies()
    assert sorted(copy["rcpt_to"]) == sorted([shop_address, f"boss-{suffix}@example.com"])
    assert expected in copy["text"]
    assert "Service client" in copy["from"]
    final = await discussion_messages(gateway, store_id, lambda ms: True)
    assert len(outbound_sent(final)) == 1
    assert [m["direction"] for m in final].count("inbound") == 2


async def test_a_thread_the_merchant_already_answered_gets_no_autoresponse(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    suffix: str,
    shop_address: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    await enable(gateway, store_id, instance, shop_address, suffix)
    # Before Parley first syncs, the merchant answers in the marketplace's back office.
    written = await buyer_writes(sandbox, instance, "Bonjour, le colis est-il parti ?")
    merchant = "Bonjour, oui, parti ce matin."
    answered = await sandbox.post(
        f"/mirakl/{instance}/api/inbox/threads/{written['thread_id']}/message",
        headers={"Authorization": SANDBOX_API_KEY},
        files={
            "message_input": (
                None,
                json.dumps({"body": merchant, "to": [{"type": "CUSTOMER"}]}),
                "application/json",
            )
        },
    )
    assert answered.status_code == 201, answered.text
    activate(system, store_id, instance)

    messages = await discussion_messages(
        gateway,
        store_id,
        lambda ms: {m["direction"] for m in ms} == {"inbound", "outbound"},
    )
    assert [m["body"] for m in messages if m["direction"] == "outbound"] == [merchant]
    await pipeline_settled(system.env, timeout=TIMEOUT)

    assert [r["body"] for r in await sandbox_replies(sandbox, instance)] == [merchant]
    assert await mails_to(sandbox, shop_address) == []
    final = await discussion_messages(gateway, store_id, lambda ms: True)
    assert [m["body"] for m in final if m["direction"] == "outbound"] == [merchant]
