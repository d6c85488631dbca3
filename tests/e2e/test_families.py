"""Every marketplace family through the whole system, for real.

For each family the sandbox plays, a buyer writes on the marketplace (the sandbox's
control API), ingest pulls (or, for the email relay, receives) it, the snapshot goes
through the real Kafka broker, the normalizer writes the discussion into MongoDB and
the gateway shows it with the family's channel. Where the family answers buyers, the
merchant replies through the gateway and the sandbox must receive that reply once.

Isolation: each test activates its own store on its own sandbox instance (Allegro:
seller account; email relay: inbound address and buyer alias), created for it with a
unique name, so no test sees another's threads, replies or mail; lists are filtered
by the test's store and the sandbox's outbox by the test's buyer.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup
from support.barriers import pipeline_settled
from support.waiting import eventually

from parley_store import GridFsFileStore

pytestmark = pytest.mark.e2e

SYNC_INTERVAL_SECONDS = 2
TIMEOUT = 60.0


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store_id(suffix: str) -> str:
    return f"e2e-store-{suffix}"


@pytest.fixture
def instance(suffix: str) -> str:
    """The test's own sandbox instance (a Mirakl operator, Fnac shop, Rakuten or
    Allegro seller account): nothing else writes there."""
    return f"e2e{suffix}"


def activate(
    system: ServiceGroup,
    family: str,
    store_id: str,
    instance: str,
    *,
    marketplace: str | None = None,
) -> str:
    """Activates the store through the ingest CLI, a minute back, syncing every 2 s."""
    return system.activate_family(
        family,
        f"{store_id}-{marketplace or instance}",
        store_id,
        instance,
        marketplace=marketplace,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=SYNC_INTERVAL_SECONDS,
    )


async def ok_json(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def the_discussion(gateway: httpx.AsyncClient, store_id: str) -> dict[str, Any]:
    """The store's one discussion, once the gateway lists it."""
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        page = await ok_json(await gateway.get("/discussions", params={"store_id": store_id}))
        found[:] = page["items"]
        return bool(found)

    await eventually(listed, timeout=TIMEOUT)
    assert len(found) == 1, found
    return found[0]


async def detail(gateway: httpx.AsyncClient, discussion_id: str) -> dict[str, Any]:
    return await ok_json(await gateway.get(f"/discussions/{discussion_id}"))


async def reply(gateway: httpx.AsyncClient, discussion_id: str, body: str) -> None:
    response = await gateway.post(
        f"/discussions/{discussion_id}/replies",
        json={"body": body, "action": "reply_and_pending", "recipients": ["customer"]},
    )
    assert response.status_code == 202, response.text


async def shown_as_sent(gateway: httpx.AsyncClient, discussion_id: str) -> None:
    """The normalizer shows the reply as one outbound message, delivered."""

    async def sent() -> bool:
        messages = (await detail(gateway, discussion_id))["messages"]
        out = [m for m in messages if m["direction"] == "outbound"]
        return len(out) == 1 and (out[0].get("delivery") or {}).get("state") == "sent"

    await eventually(sent, timeout=TIMEOUT)


async def exactly_one(
    system: ServiceGroup, fetch: Callable[[], Awaitable[list[dict[str, Any]]]]
) -> dict[str, Any]:
    """The one item ``fetch`` answers, once there is one and the services processed
    every record there is (a second one would have come from one of them)."""

    async def arrived() -> bool:
        return len(await fetch()) >= 1

    await eventually(arrived, timeout=TIMEOUT)
    await pipeline_settled(system.env, timeout=TIMEOUT)
    items = await fetch()
    assert len(items) == 1, items
    return items[0]


def inbound_only(message: dict[str, Any], body: str) -> None:
    assert message["direction"] == "inbound"
    assert message["body"] == body
    assert message["sender"]["role"] == "customer"


# --- Allegro ---------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["message_center", "discussions"])
async def test_allegro_conversation_becomes_a_discussion_of_its_channel_and_gets_one_reply(
    channel: str,
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    account = instance
    # The seller's account exists before ingest first uses its grant (refresh token).
    await ok_json(await sandbox.put(f"/_sandbox/allegro/{account}", json={}))
    activate(system, "allegro", store_id, account, marketplace="allegro")
    order_id = str(uuid.uuid4())
    text = "Dzień dobry, kiedy wyślą Państwo moje zamówienie?"
    if channel == "message_center":
        written = await ok_json(
            await sandbox.post(
                f"/_sandbox/allegro/{account}/messages",
                json={
                    "text": text,
                    "buyer_login": "kupujacy_e2e",
                    "subject": "Pytanie o wysyłkę",
                    "order_id": order_id,
                },
            ),
            201,
        )
        allegro_id = written["thread_id"]
        thread_id = allegro_id
    else:
        written = await ok_json(
            await sandbox.post(
                f"/_sandbox/allegro/{account}/issues",
                json={
                    "text": text,
                    "type": "DISPUTE",
                    "buyer_login": "kupujacy_e2e",
                    "subject": "Paczka nie dotarła",
                    "order_id": order_id,
                },
            ),
            201,
        )
        allegro_id = written["issue_id"]
        thread_id = f"issue:{allegro_id}"

    item = await the_discussion(gateway, store_id)
    assert item["channel"] == channel
    assert item["marketplace"] == "allegro"
    assert item["thread_id"] == thread_id
    assert item["order_id"] == order_id
    (first,) = (await detail(gateway, item["id"]))["messages"]
    inbound_only(first, text)

    answer = "Dzień dobry, paczka wyjdzie dziś do 17:00."
    await reply(gateway, item["id"], answer)

    async def replies() -> list[dict[str, Any]]:
        page = await ok_json(await sandbox.get(f"/_sandbox/allegro/{account}/replies"))
        found: list[dict[str, Any]] = page["replies"]
        return found

    received = await exactly_one(system, replies)
    assert received["channel"] == channel
    assert received["thread_id"] == allegro_id
    assert received["text"] == answer
    await shown_as_sent(gateway, item["id"])


# --- Fnac ------------------------------------------------------------------------------


async def test_fnac_message_becomes_a_discussion_and_gets_one_reply(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    activate(system, "fnac", store_id, instance)
    order_id = uuid.uuid4().hex[:13].upper()  # Fnac order ids are 13 characters
    text = "Bonjour, je n'ai toujours pas reçu de numéro de suivi."
    written = await ok_json(
        await sandbox.post(
            f"/_sandbox/fnac/{instance}/messages",
            json={
                "body": text,
                "sender_name": "Camille Martin",
                "order_id": order_id,
                "subject": "Où en est ma commande ?",
            },
        ),
        201,
    )

    item = await the_discussion(gateway, store_id)
    assert item["channel"] == "messages"
    assert item["marketplace"] == instance
    assert item["thread_id"] == written["thread_id"] == f"order:{order_id}"
    assert item["order_id"] == order_id
    (first,) = (await detail(gateway, item["id"]))["messages"]
    inbound_only(first, text)

    answer = "Bonjour Camille, le colis part aujourd'hui."
    await reply(gateway, item["id"], answer)

    async def replies() -> list[dict[str, Any]]:
        page = await ok_json(await sandbox.get(f"/_sandbox/fnac/{instance}/replies"))
        found: list[dict[str, Any]] = page["replies"]
        return found

    received = await exactly_one(system, replies)
    assert received["thread_id"] == written["thread_id"]
    assert received["body"] == answer
    assert received["to"] == "CLIENT"
    await shown_as_sent(gateway, item["id"])


# --- Rakuten ---------------------------------------------------------------------------


async def test_rakuten_message_becomes_a_discussion_and_gets_one_reply(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    activate(system, "rakuten", store_id, instance)
    text = "Bonjour, ma commande n'est toujours pas expédiée. Avez-vous une date ?"
    written = await ok_json(
        await sandbox.post(
            f"/_sandbox/rakuten/{instance}/messages",
            json={
                "body": text,
                "buyer": "marie.e2e",
                "headline": "Astérix - Le Domaine des Dieux (Blu-ray)",
            },
        ),
        201,
    )

    item = await the_discussion(gateway, store_id)
    assert item["channel"] == "messages"
    assert item["marketplace"] == instance
    assert item["thread_id"] == written["thread_id"]
    (first,) = (await detail(gateway, item["id"]))["messages"]
    inbound_only(first, text)

    answer = "Bonjour, l'envoi part demain matin."
    await reply(gateway, item["id"], answer)

    async def replies() -> list[dict[str, Any]]:
        page = await ok_json(await sandbox.get(f"/_sandbox/rakuten/{instance}/replies"))
        found: list[dict[str, Any]] = page["replies"]
        return found

    received = await exactly_one(system, replies)
    assert received["thread_id"] == written["thread_id"]
    assert received["content"] == answer
    await shown_as_sent(gateway, item["id"])


# --- email relay (Amazon, CDON) --------------------------------------------------------


async def test_relayed_amazon_mail_becomes_a_discussion_and_the_reply_is_threaded_mail(
    system: ServiceGroup,
    store_id: str,
    suffix: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    inbound = activate(system, "email_relay", store_id, "", marketplace="amazon-fr")
    assert inbound.startswith(f"{store_id}-amazon-fr-") and "@" in inbound, inbound
    buyer = f"e2e{suffix}buyer@marketplace.amazon.fr"
    digits = f"{uuid.uuid4().int % 10**17:017d}"
    order_id = f"{digits[:3]}-{digits[3:10]}-{digits[10:]}"
    text = "Bonjour, le colis indique livré mais je ne l'ai pas reçu."
    relayed = await ok_json(
        await sandbox.post(
            "/_sandbox/email/inbound",
            json={
                "to": inbound,
                "marketplace": "amazon",
                "tld": "fr",
                "buyer_name": "Léa Moreau",
                "buyer_alias": buyer.partition("@")[0],
                "order_id": order_id,
                "body": text,
            },
        )
    )
    assert relayed["accepted"], relayed

    item = await the_discussion(gateway, store_id)
    assert item["channel"] == "email"
    assert item["marketplace"] == "amazon-fr"
    assert item["order_id"] == order_id
    (first,) = (await detail(gateway, item["id"]))["messages"]
    inbound_only(first, text)
    assert first["sender"]["email"] == buyer
    assert first["sender"]["name"] == "Léa Moreau"

    answer = "Bonjour Léa, nous ouvrons une enquête auprès du transporteur."
    await reply(gateway, item["id"], answer)

    async def mails() -> list[dict[str, Any]]:
        page = await ok_json(await sandbox.get("/_sandbox/email/outbox", params={"to": buyer}))
        found: list[dict[str, Any]] = page["mails"]
        return found

    mail = await exactly_one(system, mails)
    assert mail["in_reply_to"] == f"<{relayed['message_id']}>"
    assert f"<{relayed['message_id']}>" in mail["references"]
    assert mail["rcpt_to"] == [buyer]
    assert inbound in mail["from"]
    assert mail["text"].strip() == answer
    await shown_as_sent(gateway, item["id"])


# --- Mirakl, with an attachment --------------------------------------------------------


async def test_mirakl_attachment_is_stored_and_listed_on_the_discussion(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    e2e_files: GridFsFileStore,
) -> None:
    activate(system, "mirakl", store_id, instance)
    content = b"%PDF-1.4\n% parley e2e " + instance.encode() + b"\n" + bytes(range(256)) * 4
    text = "Bonjour, le carton est arrivé abîmé, voici la photo du bon de livraison."
    await ok_json(
        await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={
                "body": text,
                "sender": "CUSTOMER",
                "customer_name": "Camille Martin",
                "order_id": f"ORDER-{instance}-A",
                "attachments": [
                    {
                        "name": "bon-de-livraison.pdf",
                        "content_base64": base64.b64encode(content).decode(),
                        "content_type": "application/pdf",
                    }
                ],
            },
        ),
        201,
    )

    item = await the_discussion(gateway, store_id)
    assert item["marketplace"] == instance
    messages: list[dict[str, Any]] = []

    async def attachment_stored() -> bool:
        messages[:] = (await detail(gateway, item["id"]))["messages"]
        return bool(messages and messages[0]["attachments"]) and all(
            a["file_id"] for a in messages[0]["attachments"]
        )

    await eventually(attachment_stored, timeout=TIMEOUT)
    (first,) = messages
    inbound_only(first, text)
    (attachment,) = first["attachments"]
    assert attachment["name"] == "bon-de-livraison.pdf"
    assert attachment["size"] == len(content)
    assert attachment["content_type"] == "application/pdf"
    stored = await e2e_files.open(attachment["file_id"])
    assert stored.content == content
    assert stored.name == "bon-de-livraison.pdf"
