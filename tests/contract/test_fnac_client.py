"""Contract: the Fnac client against the sandbox's Fnac Marketplace API, in process.

The sandbox serves the documented XML services; these tests pin that the client
authenticates, pages ``messages_query``, filters by date, replies and marks read
with ``messages_update``, and maps every failure the sandbox can stage (and Fnac's
XML error answers) onto Parley's family-neutral errors.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
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
from parley_connectors.fnac import (
    CALLCENTER,
    CLIENT,
    SELLER,
    FnacClient,
    FnacMessage,
    FnacPayloadError,
)
from parley_connectors.fnac.writing import FnacReplies
from parley_responder.ports import Destination
from parley_sandbox import create_app
from parley_sandbox.fnac.store import DEFAULT_KEY, DEFAULT_PARTNER_ID, DEFAULT_SHOP_ID
from parley_schemas import ParticipantRole

BASE = "http://sandbox/fnac/fnac/api.php"
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
    http: httpx.AsyncClient, *, key: str = DEFAULT_KEY, timeout: float = 30
) -> FnacClient:
    return FnacClient(BASE, DEFAULT_PARTNER_ID, DEFAULT_SHOP_ID, key, http=http, timeout=timeout)


@pytest.fixture
def client(http: httpx.AsyncClient) -> FnacClient:
    return make_client(http)


async def buyer_writes(sandbox: httpx.AsyncClient, body: str, **fields: Any) -> dict[str, Any]:
    answer = await sandbox.post("/_sandbox/fnac/fnac/messages", json={"body": body, **fields})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def arm(sandbox: httpx.AsyncClient, **fault: Any) -> None:
    answer = await sandbox.post("/_sandbox/fnac/fnac/faults", json=fault)
    assert answer.status_code == 201, answer.text


async def collect(client: FnacClient, **kwargs: Any) -> list[FnacMessage | FnacPayloadError]:
    kwargs.setdefault("updated_since", None)
    return [m async for m in client.list_messages(**kwargs)]


def services(sent: list[httpx.Request]) -> list[str]:
    return [r.url.path.rsplit("/", 1)[-1] for r in sent]


def body_of(request: httpx.Request) -> ET.Element:
    """The request body, namespace stripped so tests can say ``find("paging")``."""
    root = ET.fromstring(request.content)  # noqa: S314 - our own client's request
    assert root.tag.startswith("{http://www.fnac.com/schemas/mp-dialog.xsd}")
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    return root


# --- auth and listing -----------------------------------------------------------------


async def test_authenticates_once_then_pages_every_message_in_update_order(
    sandbox: httpx.AsyncClient, client: FnacClient, sent: list[httpx.Request]
) -> None:
    created = []
    for n in range(23):
        answer = await buyer_writes(
            sandbox,
            f"Bonjour, question {n}",
            order_id=f"ORD{n:010d}",
            sent_at=(T0 + timedelta(minutes=n)).isoformat(),
        )
        created.append(answer["message_id"])

    messages = await collect(client, page_size=5)

    assert [m.message_id for m in messages if isinstance(m, FnacMessage)] == created
    assert services(sent) == ["auth"] + ["messages_query"] * 5  # 5+5+5+5+3
    pages = [body_of(r) for r in sent[1:]]
    assert [p.findtext("paging") for p in pages] == ["1", "2", "3", "4", "5"]
    first = pages[0]
    assert first.tag == "messages_query"
    assert first.get("results_count") == "5" and first.get("token")
    assert first.get("partner_id") == DEFAULT_PARTNER_ID and first.get("shop_id") == DEFAULT_SHOP_ID
    sort = first.find("sort_by")
    assert sort is not None and sort.text == "UPDATED_AT" and sort.get("type") == "ASC"
    assert b"sandbox-fnac-key" not in b"".join(r.content for r in sent[1:])


async def test_reads_the_documented_message_fields(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    await buyer_writes(
        sandbox,
        "Le colis est arrivé abîmé.\nPouvez-vous m'aider ?",
        order_id="7F3A9C21B04D2",
        sender_name="Camille Martin",
        subject="Colis abîmé",
        sent_at=T0.isoformat(),
        attachments=[
            {"name": "photo.png", "content_base64": "iVBORw0K", "content_type": "image/png"}
        ],
    )
    (message,) = await collect(client)

    assert isinstance(message, FnacMessage)
    assert message.thread_key == ("ORDER", "7F3A9C21B04D2")
    assert message.thread_id == "order:7F3A9C21B04D2"
    assert message.from_type == CLIENT and message.from_name == "Camille Martin"
    assert message.subject == "Colis abîmé"
    assert message.description == "Le colis est arrivé abîmé.\nPouvez-vous m'aider ?"
    assert message.created_at == T0 and message.updated_at == T0
    assert message.state == "UNREAD" and not message.read
    (photo,) = message.files
    assert photo.name == "photo.png" and photo.filetype == "image/png"
    downloaded = await client.download(photo.url)
    assert downloaded.content == b"\x89PNG\r\n\x1a\n"[:6]


async def test_updated_since_filters_on_update_date(
    sandbox: httpx.AsyncClient, client: FnacClient, sent: list[httpx.Request]
) -> None:
    await buyer_writes(sandbox, "ancien", sent_at=(T0 - timedelta(days=2)).isoformat())
    recent = await buyer_writes(sandbox, "récent", sent_at=(T0 + timedelta(hours=1)).isoformat())

    messages = await collect(client, updated_since=T0)

    assert [m.message_id for m in messages if isinstance(m, FnacMessage)] == [recent["message_id"]]
    date = body_of(sent[-1]).find("date")
    assert date is not None and date.get("type") == "UpdatedAt"
    assert date.findtext("min") == "2026-03-02T08:00:00+00:00"


async def test_thread_messages_reads_one_conversation_oldest_first(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    await buyer_writes(sandbox, "autre commande", order_id="OTHER00000001")
    first = await buyer_writes(sandbox, "premier", order_id="2C8E41D7A9F03", sent_at=T0.isoformat())
    second = await buyer_writes(
        sandbox,
        "réclamation",
        order_id="2C8E41D7A9F03",
        from_type="CALLCENTER",
        sent_at=(T0 + timedelta(hours=1)).isoformat(),
    )
    offer = await buyer_writes(sandbox, "avant-vente", offer_id="OF-1", offer_title="Livre")

    thread = await client.thread_messages("ORDER", "2C8E41D7A9F03")
    (question,) = await client.thread_messages("OFFER", "OF-1")

    assert [m.message_id for m in thread] == [first["message_id"], second["message_id"]]
    assert thread[1].from_type == CALLCENTER
    assert question.message_id == offer["message_id"] and question.offer_title == "Livre"
    with pytest.raises(NotFound):
        await client.thread_messages("ORDER", "NOPE000000000")


# --- messages_update ------------------------------------------------------------------


async def test_reply_reaches_the_buyer_and_shows_in_the_conversation(
    sandbox: httpx.AsyncClient, client: FnacClient, sent: list[httpx.Request]
) -> None:
    asked = await buyer_writes(
        sandbox, "Où est mon colis ?", order_id="7F3A9C21B04D2", sent_at=T0.isoformat()
    )

    result = await client.reply(
        asked["message_id"],
        "Bonjour, il part aujourd'hui <suivi & numéro>.",
        to="CLIENT",
        subject="shipping_information",
        message_type="ORDER",
    )

    assert result.message_id == asked["message_id"] and result.status == "OK"
    request = body_of(sent[-1])
    line = request.find("message")
    assert line is not None and line.get("action") == "reply"
    assert line.findtext("message_to") == "CLIENT"
    assert line.findtext("message_description") == "Bonjour, il part aujourd'hui <suivi & numéro>."
    (reply,) = (await sandbox.get("/_sandbox/fnac/fnac/replies")).json()["replies"]
    assert reply["body"] == "Bonjour, il part aujourd'hui <suivi & numéro>."
    thread = await client.thread_messages("ORDER", "7F3A9C21B04D2")
    assert [m.from_type for m in thread] == [CLIENT, SELLER]
    assert thread[0].answer == reply["body"] and thread[0].read


async def test_refused_reply_lines_are_bad_requests(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    asked = await buyer_writes(sandbox, "Question", order_id="7F3A9C21B04D2")

    with pytest.raises(BadRequest, match="incident"):
        await client.reply(
            asked["message_id"],
            "Bonjour",
            to="CALLCENTER",
            subject="order_information",
            message_type="ORDER",
        )
    with pytest.raises(BadRequest, match="not found"):
        await client.reply(
            "00000000-0000-0000-0000-000000000000",
            "Bonjour",
            to="CLIENT",
            subject="order_information",
            message_type="ORDER",
        )


async def test_mark_read(sandbox: httpx.AsyncClient, client: FnacClient) -> None:
    asked = await buyer_writes(sandbox, "Question")

    (result,) = await client.mark_read([asked["message_id"]])

    assert result.status == "OK"
    states = (await sandbox.get("/_sandbox/fnac/fnac/messages")).json()["messages"]
    assert states[0]["state"] == "READ"


# --- credentials and tokens -----------------------------------------------------------


async def test_a_refused_key_is_authentication_failed(http: httpx.AsyncClient) -> None:
    client = make_client(http, key="wrong-key")
    with pytest.raises(AuthenticationFailed, match="partner_id, key, shop_id"):
        await collect(client)


async def test_an_expired_token_is_renewed_once(
    sandbox: httpx.AsyncClient, client: FnacClient, sent: list[httpx.Request]
) -> None:
    await buyer_writes(sandbox, "Question")
    await collect(client)
    await sandbox.post("/_sandbox/fnac/fnac/tokens/expire")

    messages = await collect(client)

    assert len(messages) == 1
    assert services(sent) == ["auth", "messages_query", "messages_query", "auth", "messages_query"]


async def test_a_token_refused_twice_is_authentication_failed(
    sandbox: httpx.AsyncClient, app: FastAPI, http: httpx.AsyncClient
) -> None:
    client = make_client(http)
    await client.authenticate()
    app.state.fnac.instance("fnac").config.token_ttl = timedelta(seconds=-1)  # born expired
    await sandbox.post("/_sandbox/fnac/fnac/tokens/expire")
    with pytest.raises(AuthenticationFailed, match="token"):
        await collect(client)


# --- faults ---------------------------------------------------------------------------


async def test_rate_limit_carries_retry_after(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    await arm(sandbox, kind="rate_limit", retry_after=42, operations=["messages_query"])
    with pytest.raises(RateLimited) as raised:
        await collect(client)
    assert raised.value.retry_after == 42


async def test_server_errors_are_unavailable(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    await arm(sandbox, kind="server_error", status=503, operations=["messages_query"])
    with pytest.raises(MarketplaceUnavailable) as raised:
        await collect(client)
    assert raised.value.status == 503


async def test_slow_answers_time_out(sandbox: httpx.AsyncClient, http: httpx.AsyncClient) -> None:
    await arm(sandbox, kind="slow", delay_seconds=1.0, operations=["messages_query"])
    with pytest.raises(MarketplaceUnavailable, match="no answer within"):
        await collect(make_client(http, timeout=0.2))


async def test_a_malformed_message_is_yielded_as_its_error(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    broken = await buyer_writes(sandbox, "un", order_id="AAAA000000001", sent_at=T0.isoformat())
    fine = await buyer_writes(
        sandbox, "deux", order_id="BBBB000000002", sent_at=(T0 + timedelta(minutes=1)).isoformat()
    )
    await arm(sandbox, kind="malformed", operations=["messages_query"])

    first, second = await collect(client)

    assert isinstance(first, FnacPayloadError)
    assert first.thread_id == "order:AAAA000000001" and broken["message_id"] in first.reason
    assert isinstance(second, FnacMessage) and second.message_id == fine["message_id"]


async def test_a_page_that_is_not_xml_is_a_payload_error(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    await buyer_writes(sandbox, "un")
    await arm(sandbox, kind="garbage", operations=["messages_query"])
    with pytest.raises(FnacPayloadError, match="not XML"):
        await collect(client)


async def test_an_invalid_reply_field_is_a_bad_request_with_fnac_s_text(
    sandbox: httpx.AsyncClient, client: FnacClient
) -> None:
    asked = await buyer_writes(sandbox, "Question")
    with pytest.raises(BadRequest, match="message_subject"):
        await client.reply(
            asked["message_id"], "Bonjour", to="CLIENT", subject="bogus", message_type="ORDER"
        )


# --- Fnac's XML error answers, beyond what the sandbox stages -------------------------

AUTH_OK = (
    b'<auth_response status="OK" xmlns="http://www.fnac.com/schemas/mp-dialog.xsd">'
    b"<token>61DF8A84-4465-7D36-20A4-00F941207026</token>"
    b"<validity>2099-01-01T00:00:00+02:00</validity><version>2.6.0</version></auth_response>"
)


def scripted(*answers: tuple[int, bytes]) -> httpx.AsyncClient:
    """A transport answering auth with a token, then the given answers in turn."""
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, content=AUTH_OK)
        status, content = queue.pop(0)
        return httpx.Response(status, content=content, headers={"content-type": "text/xml"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(
    ("status", "content", "error", "match"),
    [
        (
            200,
            b'<messages_query_response status="FATAL"><error severity="FATAL" code="ERR_120">'
            b"results_count is invalid</error></messages_query_response>",
            BadRequest,
            "ERR_120.*results_count",
        ),
        (400, b'<messages_query_response status="FATAL"/>', BadRequest, "400"),
        (404, b"Not Found", NotFound, "404"),
        (502, b"<html>Bad gateway</html>", MarketplaceUnavailable, "502"),
        (200, b'<auth_response status="OK"/>', FnacPayloadError, "auth_response"),
    ],
)
async def test_error_answers_map_to_parley_errors(
    status: int, content: bytes, error: type[Exception], match: str
) -> None:
    async with scripted((status, content)) as http:
        with pytest.raises(error, match=match):
            await collect(make_client(http))


async def test_a_token_error_in_a_200_answer_renews_the_token() -> None:
    token_error = (
        b'<messages_query_response status="ERROR"><error severity="ERROR" code="ERR_025">'
        b"Token expired</error></messages_query_response>"
    )
    empty = b'<messages_query_response status="OK"><page>1</page><total_paging>1</total_paging>'
    empty += b"</messages_query_response>"
    async with scripted((200, token_error), (200, empty)) as http:
        assert await collect(make_client(http)) == []


# --- the responder's adapter on top of the client -------------------------------------


def destination() -> Destination:
    return Destination(
        family="fnac",
        base_url=BASE,
        credentials={
            "partner_id": DEFAULT_PARTNER_ID,
            "shop_id": DEFAULT_SHOP_ID,
            "key": DEFAULT_KEY,
        },
        options={},
    )


async def test_responder_replies_to_the_latest_incoming_message_and_finds_it_again(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    await buyer_writes(sandbox, "Question", order_id="7F3A9C21B04D2", sent_at=T0.isoformat())
    claim = await buyer_writes(
        sandbox,
        "Réclamation",
        order_id="7F3A9C21B04D2",
        from_type="CALLCENTER",
        sent_at=(T0 + timedelta(hours=1)).isoformat(),
    )
    replies = FnacReplies(http)
    started = datetime.now(UTC)

    sent_id = await replies.send(
        destination(),
        "order:7F3A9C21B04D2",
        "Bonjour, nous échangeons l'article.",
        [ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR],
    )

    (reply,) = (await sandbox.get("/_sandbox/fnac/fnac/replies")).json()["replies"]
    assert reply["replied_to"] == claim["message_id"] and reply["to"] == "ALL"
    assert reply["subject"] == "order_information"
    assert sent_id == reply["message_id"]
    listed = await replies.shop_replies(destination(), "order:7F3A9C21B04D2", started)
    assert [(r.id, r.body) for r in listed or []] == [
        (sent_id, "Bonjour, nous échangeons l'article.")
    ]


async def test_responder_refuses_what_fnac_cannot_address(http: httpx.AsyncClient) -> None:
    replies = FnacReplies(http)
    with pytest.raises(BadRequest):
        await replies.send(destination(), "order:X", "Bonjour", [ParticipantRole.MERCHANT])
    with pytest.raises(BadRequest):
        await replies.send(destination(), "item:1", "Bonjour", [ParticipantRole.CUSTOMER])
