"""Contract: the responder's Allegro adapter against the sandbox, in both channels.

Pins that a reply lands in the right API (Message Center thread or issue), that a
reply found after a crash is recognised, that Allegro's rules refuse what Allegro
would, and that the responder never rotates the OAuth tokens itself: ingest, which
owns the credentials, refreshes them when asked, and the responder uses what it saved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parley_connectors.allegro import (
    AllegroAuth,
    AllegroClient,
    OAuthTokens,
    TokenStore,
    client_credentials,
    credentials_with_tokens,
    tokens_from_credentials,
)
from parley_connectors.allegro.writing import AllegroReplies
from parley_connectors.errors import BadRequest
from parley_connectors.reply_rules import RuleViolation, check_reply
from parley_responder.ports import Destination
from parley_sandbox import create_app
from parley_schemas import ParticipantRole, ReplyCommand

ACCOUNT = "odpowiedzi"
CUSTOMER = [ParticipantRole.CUSTOMER]


class Vault:
    """Stands in for the connections collection: credentials by connection id. Only
    ingest writes it (``saved_by_ingest``); the responder reads it."""

    def __init__(self, credentials: dict[str, str]) -> None:
        self.credentials = {"c1": dict(credentials)}
        self.writes = 0

    async def load_credentials(self, connection_id: str) -> dict[str, str] | None:
        return self.credentials.get(connection_id)

    def saved_by_ingest(self, connection_id: str, credentials: dict[str, str]) -> None:
        self.credentials[connection_id] = dict(credentials)
        self.writes += 1


class VaultTokens:
    """Ingest's view of the vault as a token store: it refreshes and saves."""

    def __init__(self, vault: Vault, connection_id: str) -> None:
        self._vault = vault
        self._id = connection_id

    async def load(self) -> OAuthTokens:
        return tokens_from_credentials(self._vault.credentials[self._id])

    async def save(self, tokens: OAuthTokens) -> None:
        current = self._vault.credentials[self._id]
        self._vault.saved_by_ingest(self._id, credentials_with_tokens(current, tokens))


class Ingest:
    """Stands in for ingest answering a refresh request: its sync refreshes the tokens
    (here: renews the stored access token, as after a 401) and saves the rotation."""

    def __init__(self, vault: Vault, http: httpx.AsyncClient) -> None:
        self.vault = vault
        self.http = http
        self.asked: list[str | None] = []

    async def request_refresh(self, destination: Destination) -> None:
        self.asked.append(destination.connection_id)
        assert destination.connection_id is not None
        store = VaultTokens(self.vault, destination.connection_id)
        auth = AllegroAuth(
            "http://sandbox/allegro", client_credentials(destination.credentials), store, self.http
        )
        current = await store.load()
        await auth.renew(current.access_token or "")


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        r = await client.put(f"/_sandbox/allegro/{ACCOUNT}", json={"strict_rotation": True})
        assert r.status_code == 200
        yield client


@pytest.fixture
def destination() -> Destination:
    return Destination(
        family="allegro",
        base_url="http://sandbox/allegro",
        credentials={
            "client_id": "sandbox-allegro-client",
            "client_secret": "sandbox-allegro-secret",
            "refresh_token": f"sandbox-refresh-token-{ACCOUNT}",
        },
        options={},
        connection_id="c1",
    )


@pytest.fixture
def vault(destination: Destination) -> Vault:
    return Vault(destination.credentials)


@pytest.fixture
def ingest(sandbox: httpx.AsyncClient, vault: Vault) -> Ingest:
    return Ingest(vault, sandbox)


@pytest.fixture
def replies(sandbox: httpx.AsyncClient, vault: Vault, ingest: Ingest) -> AllegroReplies:
    def on_sandbox(d: Destination, tokens: TokenStore) -> AllegroClient:
        return AllegroClient(d.base_url, client_credentials(d.credentials), tokens, http=sandbox)

    return AllegroReplies(vault, on_sandbox, refreshes=ingest)


async def control(sandbox: httpx.AsyncClient, path: str, **body: Any) -> dict[str, Any]:
    r = await sandbox.post(f"/_sandbox/allegro/{ACCOUNT}/{path}", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def received(sandbox: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await sandbox.get(f"/_sandbox/allegro/{ACCOUNT}/replies")
    ).json()["replies"]
    return found


async def test_replies_land_in_the_thread_or_the_issue(
    sandbox: httpx.AsyncClient, replies: AllegroReplies, destination: Destination
) -> None:
    thread = (await control(sandbox, "messages", text="Kiedy wysyłka?"))["thread_id"]
    issue = (await control(sandbox, "issues", text="Brak paczki"))["issue_id"]

    in_thread = await replies.send(destination, thread, "Jutro rano.", CUSTOMER)
    in_issue = await replies.send(destination, f"issue:{issue}", "Sprawdzamy.", CUSTOMER)

    got = {
        (r["channel"], r["thread_id"], r["message_id"], r["text"]) for r in await received(sandbox)
    }
    assert got == {
        ("message_center", thread, in_thread, "Jutro rano."),
        ("discussions", issue, in_issue, "Sprawdzamy."),
    }


async def test_a_reply_to_the_operator_is_refused(
    sandbox: httpx.AsyncClient, replies: AllegroReplies, destination: Destination
) -> None:
    thread = (await control(sandbox, "messages", text="?"))["thread_id"]
    with pytest.raises(BadRequest):
        await replies.send(destination, thread, "hej", [ParticipantRole.OPERATOR])
    assert await received(sandbox) == []


async def test_a_sent_reply_is_found_after_a_crash(
    sandbox: httpx.AsyncClient, replies: AllegroReplies, destination: Destination
) -> None:
    thread = (await control(sandbox, "messages", text="Halo"))["thread_id"]
    issue = f"issue:{(await control(sandbox, 'issues', text='Halo'))['issue_id']}"
    started = datetime.now(UTC)
    sent_thread = await replies.send(destination, thread, "Odpowiedź", CUSTOMER)
    sent_issue = await replies.send(destination, issue, "Odpowiedź", CUSTOMER)

    in_thread = await replies.shop_replies(destination, thread, started)
    in_issue = await replies.shop_replies(destination, issue, started)
    # The seller's messages only (the buyer's "Halo" is not listed), with their ids.
    assert [(r.id, r.body) for r in in_thread or []] == [(sent_thread, "Odpowiedź")]
    assert [(r.id, r.body) for r in in_issue or []] == [(sent_issue, "Odpowiedź")]
    later = started + timedelta(hours=1)
    assert await replies.shop_replies(destination, issue, later) == []


async def test_the_responder_never_rotates_tokens_it_asks_ingest_and_uses_what_it_saved(
    sandbox: httpx.AsyncClient,
    replies: AllegroReplies,
    destination: Destination,
    vault: Vault,
    ingest: Ingest,
) -> None:
    thread = (await control(sandbox, "messages", text="Halo"))["thread_id"]
    # No access token yet: ingest is asked, refreshes and saves; the reply goes out
    # with the tokens it saved.
    await replies.send(destination, thread, "raz", CUSTOMER)
    assert ingest.asked == ["c1"] and vault.writes == 1
    rotated = vault.credentials["c1"]
    assert rotated["refresh_token"] != destination.credentials["refresh_token"]
    assert rotated["client_id"] == "sandbox-allegro-client", "the other fields are kept"

    # Tokens refused (revoked, strict rotation): the responder asks again; a refresh
    # token it spent itself would be missing from the vault, and the next one refused.
    await sandbox.post(f"/_sandbox/allegro/{ACCOUNT}/tokens/revoke")
    await replies.send(destination, thread, "dwa", CUSTOMER)
    assert ingest.asked == ["c1", "c1"] and vault.writes == 2
    await replies.send(destination, thread, "trzy", CUSTOMER)  # the saved tokens do
    assert ingest.asked == ["c1", "c1"]
    assert [r["text"] for r in await received(sandbox)] == ["raz", "dwa", "trzy"]


def command(body: str, *recipients: ParticipantRole) -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-00000001",
        discussion_id="d1",
        store_id="s1",
        marketplace="allegro-pl",
        thread_id="t1",
        body=body,
        recipients=list(recipients),
        requested_by="tester",
        requested_at=datetime.now(UTC),
    )


def test_allegro_rules_buyer_only_and_2000_characters() -> None:
    check_reply(command("x" * 2000, ParticipantRole.CUSTOMER), "allegro")
    with pytest.raises(RuleViolation):
        check_reply(command("x" * 2001, ParticipantRole.CUSTOMER), "allegro")
    with pytest.raises(RuleViolation):
        check_reply(command("hej", ParticipantRole.OPERATOR), "allegro")
