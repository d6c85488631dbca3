"""Contract: the Allegro client against the sandbox's Allegro API, in process.

The sandbox serves the documented wire format (paths, media types, offset paging,
OAuth with rotating refresh tokens, Allegro's error bodies); these tests pin that the
client reads and writes it in both channels and maps every staged failure onto
Parley's family-neutral errors.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley_connectors.allegro import (
    BETA_V1,
    PUBLIC_V1,
    AllegroClient,
    AllegroPayloadError,
    AllegroThread,
    ClientCredentials,
    MemoryTokenStore,
    OAuthTokens,
    OutgoingFile,
)
from parley_connectors.errors import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceUnavailable,
    NotFound,
    RateLimited,
)
from parley_sandbox import create_app

ACCOUNT = "sklep-testowy"
API = "http://sandbox/allegro"
CLIENT = ClientCredentials("sandbox-allegro-client", "sandbox-allegro-secret")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def app() -> FastAPI:
    return create_app(seed=False)


@pytest.fixture
async def sandbox(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's control API: plays the buyer and shows what the seller sent."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as control:
        answer = await control.put(f"/_sandbox/allegro/{ACCOUNT}", json={})
        assert answer.status_code == 200, answer.text
        yield control


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
async def http(app: FastAPI, sent: list[httpx.Request]) -> AsyncIterator[httpx.AsyncClient]:
    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), event_hooks={"request": [record]}
    ) as client:
        yield client


@pytest.fixture
def tokens() -> MemoryTokenStore:
    return MemoryTokenStore(OAuthTokens(refresh_token=f"sandbox-refresh-token-{ACCOUNT}"))


@pytest.fixture
def client(
    http: httpx.AsyncClient, sandbox: httpx.AsyncClient, tokens: MemoryTokenStore
) -> AllegroClient:
    return AllegroClient(API, CLIENT, tokens, http=http)


async def buyer_writes(sandbox: httpx.AsyncClient, text: str, **fields: Any) -> dict[str, Any]:
    answer = await sandbox.post(
        f"/_sandbox/allegro/{ACCOUNT}/messages", json={"text": text, **fields}
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def buyer_complains(sandbox: httpx.AsyncClient, text: str, **fields: Any) -> dict[str, Any]:
    answer = await sandbox.post(
        f"/_sandbox/allegro/{ACCOUNT}/issues", json={"text": text, **fields}
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def arm(sandbox: httpx.AsyncClient, **fault: Any) -> None:
    answer = await sandbox.post(f"/_sandbox/allegro/{ACCOUNT}/faults", json=fault)
    assert answer.status_code == 201, answer.text


async def replies(sandbox: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    answer = await sandbox.get(f"/_sandbox/allegro/{ACCOUNT}/replies", params=query)
    found: list[dict[str, Any]] = answer.json()["replies"]
    return found


async def threads(client: AllegroClient, since: datetime | None = None) -> list[AllegroThread]:
    found = []
    async for item in client.threads_since(since):
        assert not isinstance(item, AllegroPayloadError), item
        found.append(item)
    return found


def api_calls(sent: list[httpx.Request], path: str) -> list[httpx.Request]:
    return [r for r in sent if r.url.path == f"/allegro{path}"]


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


# --- Message Center: listing, paging, cursor ----------------------------------------------


async def test_lists_every_thread_newest_first_across_pages(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    created = [
        (await buyer_writes(sandbox, f"Pytanie {n}", sent_at=at(n)))["thread_id"] for n in range(45)
    ]

    found = await threads(client)

    assert [t.id for t in found] == list(reversed(created))
    listing = api_calls(sent, "/messaging/threads")
    assert [(r.url.params["offset"], r.url.params["limit"]) for r in listing] == [
        ("0", "20"),
        ("20", "20"),
        ("40", "20"),
    ]
    assert all(r.headers["accept"] == PUBLIC_V1 for r in listing)
    assert all(r.headers["authorization"].startswith("Bearer ") for r in listing)


async def test_paging_stops_at_the_cursor(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    for n in range(30):
        await buyer_writes(sandbox, f"stara {n}", sent_at=at(n))
    recent = [
        (await buyer_writes(sandbox, "nowa", sent_at=at(100 + n)))["thread_id"] for n in (0, 1)
    ]

    found = await threads(client, since=T0 + timedelta(minutes=100))

    assert {t.id for t in found} == set(recent)
    assert len(api_calls(sent, "/messaging/threads")) == 1, "the first page reached the cursor"


async def test_a_new_message_brings_an_old_thread_back_after_the_cursor(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    old = await buyer_writes(sandbox, "Dzień dobry", sent_at=at(0), order_id="order-1")
    await buyer_writes(sandbox, "inna", sent_at=at(10))
    cursor = T0 + timedelta(minutes=20)
    assert await threads(client, since=cursor) == []

    await buyer_writes(sandbox, "Czy jest odpowiedź?", thread_id=old["thread_id"], sent_at=at(30))

    (thread,) = await threads(client, since=cursor)
    assert thread.id == old["thread_id"]
    assert thread.last_message_date_time == T0 + timedelta(minutes=30)
    assert thread.read is False


async def test_reads_every_message_of_a_long_thread_oldest_first(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    first = await buyer_writes(
        sandbox, "wiadomość 0", sent_at=at(0), offer_id="123", subject="Temat"
    )
    for n in range(1, 45):
        await buyer_writes(sandbox, f"wiadomość {n}", thread_id=first["thread_id"], sent_at=at(n))

    messages, raw = await client.messages(first["thread_id"])

    assert [m.text for m in messages] == [f"wiadomość {n}" for n in range(45)]
    assert len(raw) == 45 and raw[0]["createdAt"].endswith("Z")
    assert messages[0].subject == "Temat"
    assert messages[0].relates_to is not None and messages[0].relates_to.offer is not None
    assert messages[0].relates_to.offer.id == "123"
    assert messages[0].author.is_interlocutor
    assert len(api_calls(sent, f"/messaging/threads/{first['thread_id']}/messages")) == 3


async def test_messages_after_a_date_only(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    first = await buyer_writes(sandbox, "jeden", sent_at=at(0))
    await buyer_writes(sandbox, "dwa", thread_id=first["thread_id"], sent_at=at(5))

    messages, _ = await client.messages(first["thread_id"], after=T0 + timedelta(minutes=1))

    assert [m.text for m in messages] == ["dwa"]


async def test_get_thread_mark_read_and_unknown_thread(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    created = await buyer_writes(sandbox, "Halo", buyer_login="client:123")
    thread = await client.get_thread(created["thread_id"])
    assert thread.interlocutor is not None and thread.interlocutor.login == "client:123"
    assert thread.read is False

    assert (await client.mark_read(created["thread_id"])).read is True
    with pytest.raises(NotFound):
        await client.get_thread("does-not-exist")


# --- Message Center: replies and attachments -----------------------------------------------


async def test_reply_in_the_message_center(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    created = await buyer_writes(sandbox, "Kiedy wysyłka?")

    message = await client.send_message(created["thread_id"], "Dziś do 17:00. Pozdrawiamy!")

    assert not message.author.is_interlocutor
    (reply,) = await replies(sandbox, channel="message_center")
    assert reply["thread_id"] == created["thread_id"]
    assert reply["message_id"] == message.id
    assert reply["text"] == "Dziś do 17:00. Pozdrawiamy!"
    post = api_calls(sent, f"/messaging/threads/{created['thread_id']}/messages")[-1]
    assert post.headers["content-type"] == PUBLIC_V1


async def test_a_reply_over_2000_characters_is_refused_before_sending(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    created = await buyer_writes(sandbox, "?")
    with pytest.raises(BadRequest):
        await client.send_message(created["thread_id"], "x" * 2001)
    assert await replies(sandbox) == []


async def test_downloads_a_buyer_attachment(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    created = await buyer_writes(
        sandbox,
        "Zdjęcie uszkodzenia",
        attachments=[
            {
                "name": "pęknięty klosz.png",
                "content_base64": base64.b64encode(PNG).decode(),
                "content_type": "image/png",
            }
        ],
    )
    (message,), _ = await client.messages(created["thread_id"])
    (info,) = message.attachments
    assert info.file_name == "pęknięty klosz.png" and info.mime_type == "image/png"
    assert info.attachment_id == created["attachments"][0]["id"]

    file = await client.download(info.attachment_id)

    assert file.content == PNG
    assert file.name == "pęknięty klosz.png"
    assert file.content_type == "image/png"


async def test_sends_attachments_by_declaring_then_uploading_them(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    created = await buyer_writes(sandbox, "Proszę o fakturę")
    pdf = b"%PDF-1.4 faktura"

    await client.send_message_with_files(
        created["thread_id"],
        "Faktura w załączniku.",
        [
            OutgoingFile("faktura.pdf", pdf, "application/pdf"),
            OutgoingFile("foto.png", PNG, "image/png"),
        ],
    )

    (reply,) = await replies(sandbox)
    assert [(a["name"], a["size"], a["content_type"]) for a in reply["attachments"]] == [
        ("faktura.pdf", len(pdf), "application/pdf"),
        ("foto.png", len(PNG), "image/png"),
    ]
    declarations = api_calls(sent, "/messaging/message-attachments")
    assert [r.method for r in declarations] == ["POST", "POST"]
    uploads = [r for r in sent if r.method == "PUT" and "message-attachments/" in r.url.path]
    assert [r.headers["content-type"] for r in uploads] == ["application/pdf", "image/png"]


async def test_an_attachment_type_allegro_refuses_is_not_uploaded(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    with pytest.raises(BadRequest):
        await client.upload(OutgoingFile("notes.txt", b"hi", "text/plain"))
    assert not [r for r in sent if "message-attachments" in r.url.path]


# --- discussions (post-purchase issues) ----------------------------------------------------


async def test_lists_issues_across_pages_and_stops_at_the_opening_horizon(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    created = [
        (await buyer_complains(sandbox, f"Problem {n}", sent_at=at(n)))["issue_id"]
        for n in range(25)
    ]

    everything = [i async for i in client.issues(page_size=10)]
    recent = [i async for i in client.issues(opened_since=T0 + timedelta(minutes=20), page_size=10)]

    assert [i.id for i in everything if not isinstance(i, AllegroPayloadError)] == list(
        reversed(created)
    )
    assert [i.id for i in recent if not isinstance(i, AllegroPayloadError)] == list(
        reversed(created[20:])
    )
    listing = api_calls(sent, "/sale/issues")
    assert len(listing) == 3 + 1
    assert all(r.headers["accept"] == BETA_V1 for r in listing)


async def test_reads_an_issue_and_its_whole_chat(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    opened = await buyer_complains(
        sandbox, "Nie dotarła paczka", sent_at=at(0), order_id="order-9", subject="brak paczki"
    )
    for n in range(1, 25):
        author = "ADMIN" if n == 24 else "BUYER"
        await buyer_complains(
            sandbox, f"wpis {n}", issue_id=opened["issue_id"], sent_at=at(n), author=author
        )

    issue = await client.get_issue(opened["issue_id"])
    chat, raw = await client.chat(opened["issue_id"], page_size=10)

    assert issue.type == "DISPUTE" and issue.subject == "brak paczki"
    assert issue.checkout_form is not None and issue.checkout_form.id == "order-9"
    assert issue.last_activity == T0 + timedelta(minutes=24)
    assert [m.text for m in chat] == ["Nie dotarła paczka", *(f"wpis {n}" for n in range(1, 25))]
    assert chat[0].author.role == "BUYER" and chat[0].author.login
    assert chat[-1].author.role == "ADMIN" and chat[-1].author.login is None
    assert len(raw) == 25


async def test_reply_in_a_discussion_and_a_closed_chat_is_refused(
    sandbox: httpx.AsyncClient, client: AllegroClient, sent: list[httpx.Request]
) -> None:
    opened = await buyer_complains(sandbox, "Zły kolor", type="CLAIM", reason="NOT_AS_DESCRIBED")

    message = await client.send_issue_message(opened["issue_id"], "Przepraszamy, wymienimy.")

    assert message.author.role == "SELLER"
    (reply,) = await replies(sandbox, channel="discussions")
    assert reply["thread_id"] == opened["issue_id"] and reply["message_id"] == message.id
    post = api_calls(sent, f"/sale/issues/{opened['issue_id']}/message")[-1]
    assert post.headers["content-type"] == BETA_V1

    await sandbox.patch(
        f"/_sandbox/allegro/{ACCOUNT}/issues/{opened['issue_id']}", json={"chat_active": False}
    )
    with pytest.raises(BadRequest) as refused:
        await client.send_issue_message(opened["issue_id"], "Jeszcze jedno")
    assert refused.value.status == 409


async def test_downloads_an_issue_attachment(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    opened = await buyer_complains(
        sandbox,
        "Paragon",
        attachments=[
            {
                "name": "paragon.pdf",
                "content_base64": base64.b64encode(b"%PDF paragon").decode(),
                "content_type": "application/pdf",
            }
        ],
    )
    (message,), _ = await client.chat(opened["issue_id"])
    (info,) = message.attachments
    assert info.attachment_id == opened["attachments"][0]["id"]

    file = await client.download_issue_attachment(info.attachment_id)

    assert (file.name, file.content_type, file.content) == (
        "paragon.pdf",
        "application/pdf",
        b"%PDF paragon",
    )


# --- OAuth: refresh, rotation, refusal ------------------------------------------------------


async def test_first_call_refreshes_and_saves_the_rotated_refresh_token(
    sandbox: httpx.AsyncClient,
    client: AllegroClient,
    tokens: MemoryTokenStore,
    sent: list[httpx.Request],
) -> None:
    await threads(client)
    await threads(client)

    (saved,) = tokens.saved
    assert saved.refresh_token != f"sandbox-refresh-token-{ACCOUNT}", "rotated"
    assert saved.access_token and saved.expires_at is not None
    assert saved.expires_at > datetime.now(UTC) + timedelta(hours=11)
    (grant,) = [r for r in sent if r.url.path == "/allegro/auth/oauth/token"]
    assert grant.headers["authorization"].startswith("Basic ")
    assert b"grant_type=refresh_token" in grant.content
    assert "refresh_token" not in grant.url.params, "the refresh token stays out of URLs"


async def test_a_401_renews_the_token_once_and_repeats_the_call(
    sandbox: httpx.AsyncClient, client: AllegroClient, tokens: MemoryTokenStore
) -> None:
    await buyer_writes(sandbox, "Halo")
    assert len(await threads(client)) == 1
    revoked = await sandbox.post(f"/_sandbox/allegro/{ACCOUNT}/tokens/revoke")
    assert revoked.status_code == 200

    assert len(await threads(client)) == 1

    assert len(tokens.saved) == 2
    assert tokens.saved[0].refresh_token != tokens.saved[1].refresh_token


async def test_refused_client_credentials_are_an_authentication_failure(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient, tokens: MemoryTokenStore
) -> None:
    wrong = AllegroClient(API, ClientCredentials(CLIENT.client_id, "wrong"), tokens, http=http)
    with pytest.raises(AuthenticationFailed):
        await threads(wrong)
    assert tokens.saved == []


async def test_tokens_rotated_by_another_process_are_picked_up(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    """Ingest and the responder share one grant: the loser of a refresh race reloads."""
    await sandbox.put(f"/_sandbox/allegro/{ACCOUNT}", json={"strict_rotation": True})
    shared = MemoryTokenStore(OAuthTokens(refresh_token=f"sandbox-refresh-token-{ACCOUNT}"))

    class StaleFirst:
        """Reads the shared tokens, except the first time: then the old ones."""

        def __init__(self) -> None:
            self.stale: OAuthTokens | None = shared.tokens

        async def load(self) -> OAuthTokens:
            stale, self.stale = self.stale, None
            return stale or shared.tokens

        async def save(self, tokens: OAuthTokens) -> None:
            await shared.save(tokens)

    late = AllegroClient(API, CLIENT, StaleFirst(), http=http)
    early = AllegroClient(API, CLIENT, shared, http=http)
    await threads(early)  # uses and revokes the initial refresh token

    await threads(late)  # refresh with the revoked token fails; reloads and goes on

    assert len(shared.saved) == 1, "the late process used the early one's tokens"


async def test_a_revoked_refresh_token_is_an_authentication_failure(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    await sandbox.put(f"/_sandbox/allegro/{ACCOUNT}", json={"strict_rotation": True})
    first = MemoryTokenStore(OAuthTokens(refresh_token=f"sandbox-refresh-token-{ACCOUNT}"))
    await threads(AllegroClient(API, CLIENT, first, http=http))
    replay = MemoryTokenStore(OAuthTokens(refresh_token=f"sandbox-refresh-token-{ACCOUNT}"))

    with pytest.raises(AuthenticationFailed):
        await threads(AllegroClient(API, CLIENT, replay, http=http))


# --- faults -----------------------------------------------------------------------------------


async def test_429_carries_retry_after(sandbox: httpx.AsyncClient, client: AllegroClient) -> None:
    await arm(sandbox, kind="rate_limit", retry_after=42, operations=["listThreads"])
    with pytest.raises(RateLimited) as limited:
        await threads(client)
    assert limited.value.retry_after == 42


async def test_server_errors_are_unavailability(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    await arm(sandbox, kind="server_error", status=503, operations=["getIssues"])
    with pytest.raises(MarketplaceUnavailable) as failed:
        _ = [i async for i in client.issues()]
    assert failed.value.status == 503


async def test_a_slow_answer_is_unavailability(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient, tokens: MemoryTokenStore
) -> None:
    impatient = AllegroClient(API, CLIENT, tokens, http=http, timeout=0.2)
    await arm(sandbox, kind="slow", delay_seconds=2, operations=["listThreads"])
    with pytest.raises(MarketplaceUnavailable):
        await threads(impatient)


async def test_a_token_endpoint_failure_is_unavailability(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    await arm(sandbox, kind="server_error", operations=["token"])
    with pytest.raises(MarketplaceUnavailable):
        await threads(client)


async def test_a_malformed_thread_is_yielded_as_its_error_and_listing_goes_on(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    bad = await buyer_writes(sandbox, "druga", sent_at=at(1))
    good = await buyer_writes(sandbox, "pierwsza", sent_at=at(0))
    await arm(sandbox, kind="malformed", operations=["listThreads"])

    items = [i async for i in client.threads_since(None)]

    (error,) = [i for i in items if isinstance(i, AllegroPayloadError)]
    assert error.thread_id == bad["thread_id"]
    assert [i.id for i in items if isinstance(i, AllegroThread)] == [good["thread_id"]]


async def test_malformed_messages_and_chat_name_their_conversation(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    thread = await buyer_writes(sandbox, "tekst")
    issue = await buyer_complains(sandbox, "tekst")
    await arm(sandbox, kind="malformed", operations=["listMessages", "getChat"], count=2)

    with pytest.raises(AllegroPayloadError) as in_thread:
        await client.messages(thread["thread_id"])
    with pytest.raises(AllegroPayloadError) as in_issue:
        await client.chat(issue["issue_id"])

    assert in_thread.value.thread_id == thread["thread_id"]
    assert in_issue.value.thread_id == f"issue:{issue['issue_id']}"


async def test_a_garbage_answer_is_a_payload_error(
    sandbox: httpx.AsyncClient, client: AllegroClient
) -> None:
    await arm(sandbox, kind="garbage", operations=["listThreads"])
    with pytest.raises(AllegroPayloadError):
        await threads(client)
