"""Replies through the whole system (F12, F17, F18): actions, rules, recipients, files,
download links, and a failed delivery the merchant retries.

Real Kafka, the real MongoDB-compatible server, every service as a process and the
sandbox as the marketplaces. Each test has its own store and sandbox instance. Files
are uploaded through the gateway (``POST /files``) and attached by id; the sandbox
records what each marketplace received, attachments included. Download links are
checked as a buyer would use them: with no API key, until they expire (the e2e
environment gives them 30 seconds), and refused once altered.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup, create_api_key
from support.waiting import eventually

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0
PDF = b"%PDF-1.4\n% parley e2e reply attachment\n" + bytes(range(256)) * 8


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store_id(suffix: str) -> str:
    return f"e2e-replies-{suffix}"


@pytest.fixture
def instance(suffix: str) -> str:
    return f"e2er{suffix}"


def a_minute_ago() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


async def ok_json(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def mirakl_discussion(
    system: ServiceGroup,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    store_id: str,
    instance: str,
    marketplace: str = "carrefour",
) -> dict[str, Any]:
    """A buyer's message on a Mirakl instance, seen by the gateway as a discussion."""
    system.activate_family(
        "mirakl",
        f"{store_id}-{marketplace}",
        store_id,
        instance,
        marketplace=marketplace,
        since=a_minute_ago(),
        interval_seconds=2,
    )
    await ok_json(
        await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={
                "body": "Bonjour, où en est ma commande ?",
                "sender": "CUSTOMER",
                "customer_name": "Camille Martin",
                "order_id": f"ORDER-{instance}",
            },
        ),
        201,
    )
    return await listed(gateway, store_id)


async def listed(gateway: httpx.AsyncClient, store_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def one() -> bool:
        page = await ok_json(await gateway.get("/discussions", params={"store_id": store_id}))
        found[:] = page["items"]
        return bool(found)

    await eventually(one, timeout=TIMEOUT)
    return found[0]


async def post_reply(
    gateway: httpx.AsyncClient, discussion_id: str, body: str, **fields: Any
) -> str:
    response = await gateway.post(
        f"/discussions/{discussion_id}/replies", json={"body": body, **fields}
    )
    return str((await ok_json(response, 202))["command_id"])


async def outbound(
    gateway: httpx.AsyncClient, discussion_id: str, command_id: str, state: str
) -> dict[str, Any]:
    """The reply's outbound message once its delivery reached ``state``."""
    found: dict[str, Any] = {}

    async def reached() -> bool:
        detail = await ok_json(await gateway.get(f"/discussions/{discussion_id}"))
        for message in detail["messages"]:
            if message.get("command_id") == command_id:
                found.update(message)
                return bool((message.get("delivery") or {}).get("state") == state)
        return False

    await eventually(reached, timeout=TIMEOUT)
    return found


async def mirakl_replies(sandbox: httpx.AsyncClient, instance: str) -> list[dict[str, Any]]:
    page = await ok_json(await sandbox.get(f"/_sandbox/mirakl/{instance}/replies"))
    replies: list[dict[str, Any]] = page["replies"]
    return replies


async def upload(
    gateway: httpx.AsyncClient, store_id: str, name: str, content: bytes, content_type: str
) -> dict[str, Any]:
    response = await gateway.post(
        "/files", data={"store_id": store_id}, files={"file": (name, content, content_type)}
    )
    return await ok_json(response, 201)


# --- reply deadlines ----------------------------------------------------------------


async def test_a_reply_due_discussion_is_listed_as_due_until_the_reply_is_sent(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    # Mirakl says the shop's reply is needed (M11 shop_reply_needed_since, the buyer's
    # message); due within the family's window (48 h).
    assert item["reply_expected"] is True
    due = datetime.fromisoformat(item["reply_due_at"])
    assert timedelta(hours=47) < due - datetime.now(UTC) <= timedelta(hours=48)
    horizon = (due + timedelta(minutes=1)).isoformat()

    async def due_ids() -> set[str]:
        page = await ok_json(
            await gateway.get(
                "/discussions", params={"store_id": store_id, "reply_due_before": horizon}
            )
        )
        return {i["id"] for i in page["items"]}

    assert item["id"] in await due_ids()
    early = (due - timedelta(hours=1)).isoformat()
    page = await ok_json(
        await gateway.get("/discussions", params={"store_id": store_id, "reply_due_before": early})
    )
    assert page["items"] == [], "not due before its deadline"
    counts = await ok_json(await gateway.get("/discussions/counts", params={"store_id": store_id}))
    assert counts["at_risk"] == 0, "48 h away is not at risk yet (4 h window)"

    command_id = await post_reply(gateway, item["id"], "Elle part demain.")
    await outbound(gateway, item["id"], command_id, "sent")

    async def left() -> bool:
        return item["id"] not in await due_ids()

    await eventually(left, timeout=TIMEOUT)
    detail = await ok_json(await gateway.get(f"/discussions/{item['id']}"))
    assert (detail["reply_expected"], detail["reply_due_at"]) == (False, None)


async def test_a_discussion_due_within_the_window_is_at_risk_until_the_reply_is_sent(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    """The buyer has waited 45 h of Mirakl's assumed 48: due in 3 h, inside the
    gateway's 4 h at-risk window, so counted at risk; the reply takes it out."""
    waiting_since = datetime.now(UTC) - timedelta(hours=45)
    first = await ok_json(
        await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={
                "body": "Bonjour, où en est ma commande ?",
                "customer_name": "Camille Martin",
                "order_id": f"ORDER-{instance}",
                "sent_at": waiting_since.isoformat(),
            },
        ),
        201,
    )
    await ok_json(
        await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={"body": "Toujours rien ?", "thread_id": first["thread_id"]},
        ),
        201,
    )
    system.activate_family(
        "mirakl",
        f"{store_id}-carrefour",
        store_id,
        instance,
        marketplace="carrefour",
        since=a_minute_ago(),
        interval_seconds=2,
    )
    item = await listed(gateway, store_id)
    due = datetime.fromisoformat(item["reply_due_at"])
    assert timedelta(hours=2) < due - datetime.now(UTC) <= timedelta(hours=3)

    async def at_risk() -> int:
        counts = await ok_json(
            await gateway.get("/discussions/counts", params={"store_id": store_id})
        )
        return int(counts["at_risk"])

    assert await at_risk() == 1
    command_id = await post_reply(gateway, item["id"], "Elle part aujourd'hui.")
    await outbound(gateway, item["id"], command_id, "sent")

    async def safe() -> bool:
        return await at_risk() == 0

    await eventually(safe, timeout=TIMEOUT)


# --- actions, HTML, recipients ---------------------------------------------------------


async def test_each_reply_action_is_delivered_once_with_its_status_effect(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    assert item["status"] == "new"
    expected = [("reply", "open"), ("reply_and_pending", "pending"), ("reply_and_solve", "solved")]
    commands = []
    for action, status in expected:
        command_id = await post_reply(gateway, item["id"], f"Réponse {action}.", action=action)
        detail = await ok_json(await gateway.get(f"/discussions/{item['id']}"))
        assert detail["status"] == status, action
        commands.append(command_id)
        await outbound(gateway, item["id"], command_id, "sent")

    async def all_three() -> bool:
        return len(await mirakl_replies(sandbox, instance)) >= 3

    await eventually(all_three, timeout=TIMEOUT)
    # The barrier: one more reply, delivered after anything queued before it.
    last = await post_reply(gateway, item["id"], "Fin.")
    await outbound(gateway, item["id"], last, "sent")
    bodies = [r["body"] for r in await mirakl_replies(sandbox, instance)]
    assert bodies == [f"Réponse {action}." for action, _ in expected] + ["Fin."]


async def test_html_is_refused_with_a_clear_error_and_never_sent(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    response = await gateway.post(
        f"/discussions/{item['id']}/replies", json={"body": "<p>Bonjour <b>Camille</b></p>"}
    )
    body = problem(response, 422)
    assert body["errors"][0]["pointer"] == "#/body"
    assert body["errors"][0]["code"] == "html_not_accepted"
    assert "plain text" in body["detail"].lower()
    detail = await ok_json(await gateway.get(f"/discussions/{item['id']}"))
    assert detail["status"] == "new"
    assert [m["direction"] for m in detail["messages"]] == ["inbound"]
    # The barrier: a plain reply to the same discussion, delivered after anything
    # queued before it. Only it reaches the marketplace.
    plain = await post_reply(gateway, item["id"], "Bonjour Camille.")
    await outbound(gateway, item["id"], plain, "sent")
    assert [r["body"] for r in await mirakl_replies(sandbox, instance)] == ["Bonjour Camille."]
    detail = await ok_json(await gateway.get(f"/discussions/{item['id']}"))
    assert [m["body"] for m in detail["messages"] if m["direction"] == "outbound"] == [
        "Bonjour Camille."
    ]


async def test_recipients_are_honoured_or_the_reply_is_refused_naming_the_rule(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    # Mirakl: the customer and the operator of the thread, as asked.
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    both = await post_reply(
        gateway, item["id"], "Pour vous deux.", recipients=["customer", "operator"]
    )
    await outbound(gateway, item["id"], both, "sent")
    only_operator = await post_reply(
        gateway, item["id"], "Pour l'opérateur.", recipients=["operator"]
    )
    message = await outbound(gateway, item["id"], only_operator, "sent")
    assert message["recipients"] == ["operator"]
    received = {
        r["body"]: sorted(t["type"] for t in r["to"])
        for r in await mirakl_replies(sandbox, instance)
    }
    assert received == {
        "Pour vous deux.": ["CUSTOMER", "OPERATOR"],
        "Pour l'opérateur.": ["OPERATOR"],
    }

    # Rakuten reaches the buyer only: a reply to the operator is refused at once, naming
    # the rule (422), and nothing is queued or sent. (The responder keeps the same check
    # as its last guard: tests/unit/responder/test_rules.py.)
    rakuten_store = f"{store_id}-rk"
    rk = f"{instance}rk"
    system.activate_family(
        "rakuten",
        f"{rakuten_store}-{rk}",
        rakuten_store,
        rk,
        since=a_minute_ago(),
        interval_seconds=2,
    )
    await ok_json(
        await sandbox.post(
            f"/_sandbox/rakuten/{rk}/messages",
            json={"body": "Bonjour ?", "buyer": "marie.e2e", "headline": "Un livre"},
        ),
        201,
    )
    # The gateway's key covers store_id only: this discussion needs its own key.
    key = create_api_key(system, f"e2e-{rakuten_store}", [rakuten_store])
    async with httpx.AsyncClient(
        base_url=str(gateway.base_url), timeout=10, headers={"Authorization": f"Bearer {key}"}
    ) as rk_gateway:
        rk_item = await listed(rk_gateway, rakuten_store)
        refused = problem(
            await rk_gateway.post(
                f"/discussions/{rk_item['id']}/replies",
                json={"body": "Hello", "recipients": ["operator"]},
            ),
            422,
        )
        detail = await ok_json(await rk_gateway.get(f"/discussions/{rk_item['id']}"))
    assert refused["errors"] == [
        {
            "pointer": "#/recipients",
            "detail": "rakuten does not accept replies addressed to: operator",
            "code": "recipient_not_accepted",
        }
    ]
    assert [m for m in detail["messages"] if m["direction"] == "outbound"] == []
    page = await ok_json(await sandbox.get(f"/_sandbox/rakuten/{rk}/replies"))
    assert page["replies"] == []


# --- attachments -----------------------------------------------------------------------


async def test_a_file_goes_natively_to_a_mirakl_instance_that_accepts_files(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    assert item["marketplace"] == "carrefour"
    uploaded = await upload(gateway, store_id, "facture.pdf", PDF, "application/pdf")
    assert uploaded["size"] == len(PDF)
    assert uploaded["content_type"] == "application/pdf"

    text = "Bonjour, voici votre facture."
    command_id = await post_reply(gateway, item["id"], text, attachment_ids=[uploaded["id"]])
    message = await outbound(gateway, item["id"], command_id, "sent")
    assert message["body"] == text  # nothing appended: the file travelled with it
    (shown,) = message["attachments"]
    assert (shown["name"], shown["size"], shown["file_id"]) == (
        "facture.pdf",
        len(PDF),
        uploaded["id"],
    )

    (received,) = await mirakl_replies(sandbox, instance)
    assert received["body"] == text
    (file,) = received["attachments"]
    assert file["name"] == "facture.pdf"
    assert file["content_type"] == "application/pdf"
    assert file["sha256"] == hashlib.sha256(PDF).hexdigest()


async def test_a_file_rakuten_cannot_carry_is_a_link_that_works_until_it_expires(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    system.activate_family(
        "rakuten",
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=a_minute_ago(),
        interval_seconds=2,
    )
    await ok_json(
        await sandbox.post(
            f"/_sandbox/rakuten/{instance}/messages",
            json={"body": "La facture svp", "buyer": "marie.e2e", "headline": "Un livre"},
        ),
        201,
    )
    item = await listed(gateway, store_id)
    uploaded = await upload(gateway, store_id, "facture.pdf", PDF, "application/pdf")
    text = "Bonjour, la facture est en lien ci-dessous."
    command_id = await post_reply(gateway, item["id"], text, attachment_ids=[uploaded["id"]])
    message = await outbound(gateway, item["id"], command_id, "sent")

    page = await ok_json(await sandbox.get(f"/_sandbox/rakuten/{instance}/replies"))
    (received,) = page["replies"]
    content: str = received["content"]
    assert content == message["body"]
    match = re.fullmatch(
        re.escape(text) + r"\n\nfacture\.pdf: (http://127\.0\.0\.1:\d+/links/(\S+))", content
    )
    assert match, content
    url, token = match.groups()
    assert url.startswith(str(gateway.base_url).rstrip("/"))

    # The buyer, with no API key: the file, as uploaded.
    async with httpx.AsyncClient(timeout=10) as buyer:
        got = await buyer.get(url)
        assert got.status_code == 200, got.text
        assert got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert "facture.pdf" in got.headers["content-disposition"]

        # Altered: another expiry, another file id, another signature.
        file_id, expiry, signature = token.split(".")
        base = url.removesuffix(token)
        forged = [
            f"{file_id}.{int(expiry) + 3600}.{signature}",
            f"{file_id[:-1]}{'0' if file_id[-1] != '0' else '1'}.{expiry}.{signature}",
            f"{file_id}.{expiry}.{signature[:-2]}AA",
        ]
        for fake in forged:
            refused = problem(await buyer.get(base + fake), 403)
            assert refused["type"].endswith("/link-invalid")
            assert PDF not in (await buyer.get(base + fake)).content

        # Expired: 410, never the file.
        assert 0 < int(expiry) - time.time() <= 31

        async def expired() -> bool:
            return (await buyer.get(url)).status_code != 200

        await eventually(expired, timeout=45)
        gone = await buyer.get(url)
        body = problem(gone, 410)
        assert body["type"].endswith("/link-expired")
        assert PDF not in gone.content


async def test_uploads_are_checked_for_store_size_and_type(
    store_id: str, gateway: httpx.AsyncClient
) -> None:
    other_store = problem(
        await gateway.post(
            "/files", data={"store_id": "someone-else"}, files={"file": ("a.pdf", PDF)}
        ),
        422,
    )
    assert other_store["errors"][0]["pointer"] == "#/store_id"
    wrong_type = problem(
        await gateway.post(
            "/files",
            data={"store_id": store_id},
            files={"file": ("run.exe", b"MZ...", "application/x-msdownload")},
        ),
        415,
    )
    assert "application/x-msdownload" in wrong_type["detail"]
    too_big = await gateway.post(
        "/files",
        data={"store_id": store_id},
        files={"file": ("big.pdf", b"0" * (10 * 1000 * 1000 + 1), "application/pdf")},
    )
    problem(too_big, 413)
    async with httpx.AsyncClient(base_url=str(gateway.base_url)) as anonymous:
        unauthenticated = await anonymous.post(
            "/files", data={"store_id": store_id}, files={"file": ("a.pdf", PDF)}
        )
    problem(unauthenticated, 401)


# --- a failed delivery, retried by the merchant ----------------------------------------


async def test_a_delivery_failed_after_its_retries_is_retried_by_the_merchant_once(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    # Every attempt of the responder's budget (5) gets a 503 from M12.
    await ok_json(
        await sandbox.post(
            f"/_sandbox/mirakl/{instance}/faults",
            json={"kind": "server_error", "status": 503, "count": 5, "operations": ["M12"]},
        ),
        201,
    )
    text = "Bonjour, votre colis part demain."
    command_id = await post_reply(gateway, item["id"], text)
    failed = await outbound(gateway, item["id"], command_id, "failed")
    assert "gave up after 5 attempts" in failed["delivery"]["error"]
    assert failed["delivery"]["attempts"] == 5, "every attempt counted, not just one"
    assert failed["delivery"]["next_attempt_at"] is None
    assert "503" in failed["delivery"]["error"]
    assert await mirakl_replies(sandbox, instance) == []

    retry_path = f"/discussions/{item['id']}/deliveries/{command_id}/retry"
    accepted = await ok_json(await gateway.post(retry_path), 202)
    assert accepted == {"command_id": command_id, "retry": 1, "state": "queued"}
    # Asked again: the same request (202, the same round) until the responder took it,
    # then only a failed delivery can be retried (409). Never a second reply (below).
    repeat = await gateway.post(retry_path)
    if repeat.status_code == 202:
        assert repeat.json() == accepted
    else:
        assert problem(repeat, 409)["type"].endswith("/delivery-not-retryable")

    sent = await outbound(gateway, item["id"], command_id, "sent")
    assert sent["delivery"]["retry"] == 1
    assert sent["delivery"]["error"] is None
    # The barrier: one more reply, delivered after anything queued before it.
    last = await post_reply(gateway, item["id"], "Fin.")
    await outbound(gateway, item["id"], last, "sent")
    assert [r["body"] for r in await mirakl_replies(sandbox, instance)] == [text, "Fin."]
    problem(await gateway.post(retry_path), 409)
    unknown = problem(
        await gateway.post(f"/discussions/{item['id']}/deliveries/nosuchcommand/retry"), 404
    )
    assert unknown["type"].endswith("/delivery-not-found")
