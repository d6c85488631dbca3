"""Flows with secrets only this module knows, for the session's secret scan.

The rest of the suite syncs and replies with the sandbox's demo credentials; here the
sandbox is given credentials drawn at random (a Rakuten token, an Allegro client
secret and refresh token), so a leak cannot hide behind a value that also appears
elsewhere, and the flows the rest of the suite does not drive run with them: a
discussion resynced, credentials the marketplace refuses, a forged download link and
a forged cursor. Every value goes to the session's ledger; the scan at the end of the
session (tests/e2e/conftest.py) fails if any of them is in a log line or a span. This
module checks what it can see directly: no problem answer quotes one.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import SANDBOX_CREDENTIALS, ServiceGroup
from support.secret_scan import SecretLedger
from support.waiting import eventually

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store_id(suffix: str) -> str:
    return f"e2e-secrets-{suffix}"


def logged(system: ServiceGroup, service: str, *needles: str) -> bool:
    """Whether one line of ``service``'s log holds every needle (a barrier only)."""
    path = system.log_path(service)
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return any(all(needle in line for needle in needles) for line in lines)


async def the_discussion(gateway: httpx.AsyncClient, store_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        answer = await gateway.get("/discussions", params={"store_id": store_id})
        assert answer.status_code == 200, answer.text
        found[:] = answer.json()["items"]
        return bool(found)

    await eventually(listed, timeout=TIMEOUT)
    return found[0]


async def replied(gateway: httpx.AsyncClient, discussion_id: str, body: str) -> None:
    answer = await gateway.post(
        f"/discussions/{discussion_id}/replies",
        json={"body": body, "action": "reply_and_pending", "recipients": ["customer"]},
    )
    assert answer.status_code == 202, answer.text

    async def sent() -> bool:
        messages = (await gateway.get(f"/discussions/{discussion_id}")).json()["messages"]
        out = [m for m in messages if m["direction"] == "outbound"]
        return len(out) == 1 and (out[0].get("delivery") or {}).get("state") == "sent"

    await eventually(sent, timeout=TIMEOUT)


async def test_rakuten_sync_reply_resync_and_refused_credentials_with_a_secret_token(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    gateway: httpx.AsyncClient,
    secret_ledger: SecretLedger,
    store_id: str,
    suffix: str,
) -> None:
    instance = f"e2es{suffix}"
    token = f"rk-{secrets.token_urlsafe(18)}"
    wrong = f"rk-{secrets.token_urlsafe(18)}"
    secret_ledger.add("Rakuten token (random)", token)
    secret_ledger.add("Rakuten token (refused)", wrong)
    login = SANDBOX_CREDENTIALS["rakuten"]["login"]
    configured = await sandbox.put(
        f"/_sandbox/rakuten/{instance}", json={"login": login, "token": token}
    )
    assert configured.status_code == 200, configured.text
    written = await sandbox.post(
        f"/_sandbox/rakuten/{instance}/messages",
        json={"body": "Bonjour, le colis est-il parti ?", "buyer": "paul.e2e"},
    )
    assert written.status_code == 201, written.text
    since = datetime.now(UTC) - timedelta(minutes=1)
    base_url = system.sandbox_url("rakuten", instance)
    system.add_connection(
        f"{store_id}-rakuten",
        store_id,
        "rakuten",
        instance,
        credentials={"login": login, "token": token},
        base_url=base_url,
        since=since,
        interval_seconds=2,
    )

    item = await the_discussion(gateway, store_id)
    await replied(gateway, item["id"], f"Il part demain ({suffix}).")

    resync = await gateway.post(f"/discussions/{item['id']}/resync")
    assert resync.status_code == 202, resync.text

    async def resynced() -> bool:
        return logged(system, "ingest", "discussion resynced", item["thread_id"])

    await eventually(resynced, timeout=TIMEOUT)

    # The same shop on another connection, with a token the marketplace refuses.
    refused_id = f"{store_id}-refused"
    system.add_connection(
        refused_id,
        f"{store_id}-other",
        "rakuten",
        f"{instance}-refused",
        credentials={"login": login, "token": wrong},
        base_url=base_url,
        since=since,
        interval_seconds=2,
    )

    async def refused() -> bool:
        return logged(system, "ingest", "credentials refused", refused_id)

    await eventually(refused, timeout=TIMEOUT)


async def test_allegro_sync_and_reply_with_a_secret_client_and_refresh_token(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    gateway: httpx.AsyncClient,
    secret_ledger: SecretLedger,
    store_id: str,
    suffix: str,
) -> None:
    account = f"e2es{suffix}"
    client_id = f"client-{suffix}"
    client_secret = f"as-{secrets.token_urlsafe(18)}"
    refresh_token = f"rt-{secrets.token_urlsafe(18)}"
    secret_ledger.add_basic("Allegro client secret (random)", client_id, client_secret)
    secret_ledger.add("Allegro refresh token (random)", refresh_token)
    configured = await sandbox.put(
        f"/_sandbox/allegro/{account}",
        json={
            "client_id": client_id,
            "client_secret": client_secret,
            "initial_refresh_token": refresh_token,
        },
    )
    assert configured.status_code == 200, configured.text
    written = await sandbox.post(
        f"/_sandbox/allegro/{account}/messages",
        json={"text": "Dzień dobry, kiedy wysyłka?", "buyer_login": f"kupujacy-{suffix}"},
    )
    assert written.status_code == 201, written.text
    system.add_connection(
        f"{store_id}-allegro",
        store_id,
        "allegro",
        "allegro",
        credentials={
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        },
        base_url=system.sandbox_url("allegro", account),
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )

    item = await the_discussion(gateway, store_id)
    await replied(gateway, item["id"], f"Wysyłka jutro ({suffix}).")


async def test_forged_links_and_cursors_are_refused_without_being_quoted(
    gateway: httpx.AsyncClient, secret_ledger: SecretLedger
) -> None:
    forged_link = secrets.token_urlsafe(24) + "." + secrets.token_urlsafe(16)
    forged_cursor = secrets.token_urlsafe(24)
    secret_ledger.add("download-link token (forged)", forged_link, message_content=True)
    secret_ledger.add("cursor (forged)", forged_cursor)

    link = await gateway.get(f"/links/{forged_link}")
    assert 400 <= link.status_code < 500, link.text
    assert link.headers["content-type"].startswith("application/problem+json")
    listing = await gateway.get("/discussions", params={"cursor": forged_cursor})
    assert 400 <= listing.status_code < 500, listing.text
    for answer in (link, listing):
        assert not list(secret_ledger.leaks(answer.text, "the problem answer"))
