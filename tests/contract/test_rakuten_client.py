"""Contract: the Rakuten France client against the sandbox's sales web services, in process.

These pin that the client sends login, token and version as the documentation's URLs
show, reads the to-do list across pages, reads an item's messages and mails with
stable ids and Paris dates, writes to the buyer, and maps every failure the sandbox
can stage (and Rakuten's ``errorresponse`` documents) onto Parley's errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley_connectors.errors import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceUnavailable,
    NotFound,
    RateLimited,
)
from parley_connectors.rakuten import (
    MAIL,
    MESSAGE,
    RakutenClient,
    RakutenPayloadError,
    RakutenTodoItem,
    parse_date,
)
from parley_connectors.rakuten.writing import RakutenReplies
from parley_responder.ports import Destination
from parley_sandbox import create_app
from parley_sandbox.rakuten.store import DEFAULT_LOGIN, DEFAULT_TOKEN
from parley_schemas import ParticipantRole

BASE = "http://sandbox/rakuten/fr"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def app() -> FastAPI:
    return create_app(seed=False)


@pytest.fixture
async def sandbox(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as control:
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


def make_client(
    http: httpx.AsyncClient, *, token: str = DEFAULT_TOKEN, timeout: float = 30
) -> RakutenClient:
    return RakutenClient(BASE, DEFAULT_LOGIN, token, http=http, timeout=timeout)


@pytest.fixture
def client(http: httpx.AsyncClient) -> RakutenClient:
    return make_client(http)


async def buyer_writes(sandbox: httpx.AsyncClient, body: str, **fields: Any) -> dict[str, Any]:
    answer = await sandbox.post("/_sandbox/rakuten/fr/messages", json={"body": body, **fields})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def arm(sandbox: httpx.AsyncClient, **fault: Any) -> None:
    answer = await sandbox.post("/_sandbox/rakuten/fr/faults", json=fault)
    assert answer.status_code == 201, answer.text


async def todo(client: RakutenClient) -> list[RakutenTodoItem | RakutenPayloadError]:
    return [item async for item in client.todo_items()]


# --- getitemtodolist ------------------------------------------------------------------


async def test_todo_list_pages_with_nexttoken(
    sandbox: httpx.AsyncClient, client: RakutenClient, sent: list[httpx.Request]
) -> None:
    await sandbox.put("/_sandbox/rakuten/fr", json={"todo_page_size": 4})
    created = [(await buyer_writes(sandbox, f"Question {n}"))["itemid"] for n in range(10)]

    items = await todo(client)

    assert sorted(i.itemid for i in items if isinstance(i, RakutenTodoItem)) == sorted(created)
    assert len(sent) == 3  # 4 + 4 + 2
    first, follow_up = sent[0].url.params, sent[1].url.params
    assert first["action"] == "getitemtodolist" and first["version"] == "2011-09-01"
    assert first["login"] == DEFAULT_LOGIN and first["pwd"] == DEFAULT_TOKEN
    assert "nexttoken" not in first and follow_up["nexttoken"]
    assert sent[0].url.path == "/rakuten/fr/sales_ws"


async def test_answered_items_leave_the_todo_list(
    sandbox: httpx.AsyncClient, client: RakutenClient
) -> None:
    answered = await buyer_writes(sandbox, "Bonjour ?")
    waiting = await buyer_writes(sandbox, "Toujours là ?")

    await client.contact_user(answered["itemid"], "Oui, bonjour !")

    assert [i.itemid for i in await todo(client) if isinstance(i, RakutenTodoItem)] == [
        waiting["itemid"]
    ]


# --- getiteminfos ---------------------------------------------------------------------


async def test_item_infos_reads_messages_and_mails_with_stable_ids(
    sandbox: httpx.AsyncClient, client: RakutenClient, sent: list[httpx.Request]
) -> None:
    asked = await buyer_writes(
        sandbox,
        "La théière est fêlée.",
        buyer="jeanne.leroy",
        headline="Théière en fonte",
        sent_at=T0.isoformat(),
    )
    mail = await buyer_writes(
        sandbox,
        "Une réclamation a été ouverte.",
        itemid=asked["itemid"],
        sender="RAKUTEN",
        subject="Réclamation sur votre vente",
        sent_at=(T0 + timedelta(minutes=5)).isoformat(),
    )

    item = await client.item_infos(asked["itemid"])
    again = await client.item_infos(asked["itemid"])

    assert sent[0].url.params["version"] == "2017-08-07"
    assert sent[0].url.params["itemid"] == asked["itemid"]
    assert item.thread_id == f"item:{asked['itemid']}"
    assert item.headline == "Théière en fonte" and item.purchase_id == asked["purchaseid"]
    buyer, rakuten = item.messages
    assert (buyer.kind, buyer.sender, buyer.content) == (
        MESSAGE,
        "jeanne.leroy",
        "La théière est fêlée.",
    )
    assert buyer.sent_at == T0 and buyer.recipient == DEFAULT_LOGIN
    assert (rakuten.kind, rakuten.sender) == (MAIL, "Rakuten France")
    assert rakuten.message_id == f"mail-{mail['mailid']}"
    assert rakuten.subject == "Réclamation sur votre vente"
    assert [m.message_id for m in again.messages] == [m.message_id for m in item.messages]
    assert item.last_activity == T0 + timedelta(minutes=5)


def test_rakuten_dates_are_paris_time_to_the_minute() -> None:
    assert parse_date("15/02/2011-11:46") == datetime(2011, 2, 15, 10, 46, tzinfo=UTC)
    assert parse_date("15/07/2011 - 11:46") == datetime(2011, 7, 15, 9, 46, tzinfo=UTC)


async def test_an_unknown_item_is_not_found(client: RakutenClient) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        await client.item_infos("999")


# --- contactuseraboutitem -------------------------------------------------------------


async def test_contact_user_reaches_the_buyer(
    sandbox: httpx.AsyncClient, client: RakutenClient, sent: list[httpx.Request]
) -> None:
    asked = await buyer_writes(sandbox, "Où est ma commande ?")
    text = "Bonjour, expédiée ce jour & suivi envoyé : 100% sûr."

    result = await client.contact_user(asked["itemid"], text)

    assert result.itemid == asked["itemid"] and result.raw_status == "OK"
    params = sent[-1].url.params
    assert params["action"] == "contactuseraboutitem" and params["version"] == "2011-02-02"
    assert params["content"] == text
    (reply,) = (await sandbox.get("/_sandbox/rakuten/fr/replies")).json()["replies"]
    assert reply["content"] == text and reply["thread_id"] == asked["thread_id"]
    item = await client.item_infos(asked["itemid"])
    assert item.messages[-1].sender == DEFAULT_LOGIN and item.messages[-1].content == text


async def test_a_refused_contact_is_a_bad_request(
    sandbox: httpx.AsyncClient, client: RakutenClient
) -> None:
    asked = await buyer_writes(sandbox, "Réclamation", claim="OPEN")
    with pytest.raises(BadRequest, match="not amicable"):
        await client.contact_user(asked["itemid"], "Bonjour")


# --- credentials, versions and faults -------------------------------------------------


async def test_a_wrong_token_is_authentication_failed(http: httpx.AsyncClient) -> None:
    with pytest.raises(AuthenticationFailed, match="AuthenticationError"):
        await todo(make_client(http, token="wrong"))


async def test_an_unsupported_version_is_a_bad_request(http: httpx.AsyncClient) -> None:
    client = RakutenClient(
        BASE, DEFAULT_LOGIN, DEFAULT_TOKEN, http=http, versions={"getitemtodolist": "1999-01-01"}
    )
    with pytest.raises(BadRequest, match="version 1999-01-01 is not supported"):
        await todo(client)


async def test_rate_limit_carries_retry_after(
    sandbox: httpx.AsyncClient, client: RakutenClient
) -> None:
    await arm(sandbox, kind="rate_limit", retry_after=42)
    with pytest.raises(RateLimited) as raised:
        await todo(client)
    assert raised.value.retry_after == 42


async def test_server_errors_are_unavailable(
    sandbox: httpx.AsyncClient, client: RakutenClient
) -> None:
    await arm(sandbox, kind="server_error", status=503, operations=["getitemtodolist"])
    with pytest.raises(MarketplaceUnavailable, match="ServerError"):
        await todo(client)


async def test_slow_answers_time_out(sandbox: httpx.AsyncClient, http: httpx.AsyncClient) -> None:
    await arm(sandbox, kind="slow", delay_seconds=1.0)
    with pytest.raises(MarketplaceUnavailable, match="no answer within"):
        await todo(make_client(http, timeout=0.2))


async def test_malformed_answers(sandbox: httpx.AsyncClient, client: RakutenClient) -> None:
    asked = await buyer_writes(sandbox, "Bonjour")
    await arm(sandbox, kind="malformed", operations=["getitemtodolist"])
    (entry,) = await todo(client)
    assert isinstance(entry, RakutenPayloadError) and "itemid" in entry.reason

    await arm(sandbox, kind="malformed", operations=["getiteminfos"])
    with pytest.raises(RakutenPayloadError, match="senddate") as raised:
        await client.item_infos(asked["itemid"])
    assert raised.value.thread_id == asked["thread_id"]

    await arm(sandbox, kind="garbage", operations=["getiteminfos"])
    with pytest.raises(RakutenPayloadError, match="not XML"):
        await client.item_infos(asked["itemid"])


# --- Rakuten's error documents, beyond what the sandbox stages ------------------------


def error_document(type_: str, code: str, message: str, detail: str) -> bytes:
    return (
        '<errorresponse xmlns="https://static.fr.shopping.rakuten.com/res/schema/error">'
        f"<error><type>{type_}</type><code>{code}</code><message>{message}</message>"
        f"<details><detail><![CDATA[ {detail} ]]></detail></details></error></errorresponse>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "content", "error", "match"),
    [
        (
            200,
            error_document(
                "Sender", "ParameterError", "Problem with parameters.", "The parameter x is bad"
            ),
            BadRequest,
            "ParameterError.*parameter x is bad",
        ),
        (
            200,
            error_document(
                "Sender",
                "ParameterError",
                "Problem with parameters.",
                "The parameter login is mandatory",
            ),
            AuthenticationFailed,
            "login",
        ),
        (
            200,
            error_document(
                "ServerError", "ServerError", "Server not able to fullfill request.", ""
            ),
            MarketplaceUnavailable,
            "ServerError",
        ),
        (
            200,
            error_document("Unknown error", "Unknown error", "Service unavailable", ""),
            MarketplaceUnavailable,
            "Service unavailable",
        ),
        (503, b"<html>maintenance</html>", MarketplaceUnavailable, "503"),
        (200, b"<somethingelse/>", RakutenPayloadError, "somethingelse"),
    ],
)
async def test_error_documents_map_to_parley_errors(
    status: int, content: bytes, error: type[Exception], match: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=content))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(error, match=match):
            await todo(make_client(http))


# --- the responder's adapter on top of the client -------------------------------------


def destination() -> Destination:
    return Destination(
        family="rakuten",
        base_url=BASE,
        credentials={"login": DEFAULT_LOGIN, "token": DEFAULT_TOKEN},
        options={},
    )


async def test_responder_writes_to_the_buyer_and_finds_the_message_again(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    asked = await buyer_writes(sandbox, "Où est ma commande ?")
    replies = RakutenReplies(http)
    started = datetime.now(UTC)

    sent_id = await replies.send(
        destination(), asked["thread_id"], "Expédiée ce matin.", [ParticipantRole.CUSTOMER]
    )

    (reply,) = (await sandbox.get("/_sandbox/rakuten/fr/replies")).json()["replies"]
    assert reply["content"] == "Expédiée ce matin."
    item = await make_client(http).item_infos(asked["itemid"])
    assert sent_id == item.messages[-1].message_id
    listed = await replies.shop_replies(destination(), asked["thread_id"], started)
    assert [(r.id, r.body) for r in listed or []] == [(sent_id, "Expédiée ce matin.")]
    with pytest.raises(BadRequest, match="only reaches the buyer"):
        await replies.send(destination(), asked["thread_id"], "x", [ParticipantRole.OPERATOR])
