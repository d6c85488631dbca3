"""Contract: the Mirakl client against the sandbox's Mirakl API, in process.

The sandbox serves the documented wire format; these tests pin that the client reads
and writes it (pagination, filters, multipart replies, downloads) and maps every
failure the sandbox can stage onto Parley's family-neutral errors.
"""

from __future__ import annotations

import base64
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
from parley_connectors.mirakl import (
    MiraklClient,
    MiraklParticipantType,
    MiraklPayloadError,
    MiraklRecipient,
    MiraklThread,
    OutgoingFile,
)
from parley_sandbox import create_app

KEY = "sandbox-shop-key"
BASE = "http://sandbox/mirakl/carrefour"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CUSTOMER = MiraklRecipient(type=MiraklParticipantType.CUSTOMER)
OPERATOR = MiraklRecipient(type=MiraklParticipantType.OPERATOR)


@pytest.fixture
def app() -> FastAPI:
    return create_app(seed=False)


@pytest.fixture
async def sandbox(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's control API, to play the buyer and to inspect what arrived."""
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


@pytest.fixture
def client(http: httpx.AsyncClient) -> MiraklClient:
    return MiraklClient(BASE, KEY, http=http)


async def buyer_writes(sandbox: httpx.AsyncClient, body: str, **fields: Any) -> dict[str, Any]:
    answer = await sandbox.post(
        "/_sandbox/mirakl/carrefour/messages", json={"body": body, **fields}
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def arm(sandbox: httpx.AsyncClient, **fault: Any) -> None:
    answer = await sandbox.post("/_sandbox/mirakl/carrefour/faults", json=fault)
    assert answer.status_code == 201, answer.text


async def collect(client: MiraklClient, **kwargs: Any) -> list[MiraklThread]:
    kwargs.setdefault("updated_since", None)
    return [thread async for thread in client.list_threads(**kwargs)]


# --- M11: listing ---------------------------------------------------------------------


async def test_lists_every_thread_across_pages_sending_only_the_token_after_the_first(
    sandbox: httpx.AsyncClient, client: MiraklClient, sent: list[httpx.Request]
) -> None:
    created = {
        (await buyer_writes(sandbox, f"Bonjour, question {n}", order_id=f"CRF-{n:04d}-A"))[
            "thread_id"
        ]
        for n in range(23)
    }

    threads = await collect(client, page_size=5, updated_since=T0)

    assert {t.id for t in threads} == created
    assert len(threads) == 23  # no thread twice
    assert len(sent) == 5  # 5 + 5 + 5 + 5 + 3
    first, follow_up = sent[0].url.params, sent[1].url.params
    assert first["limit"] == "5" and "updated_since" in first and "page_token" not in first
    assert set(follow_up) == {"page_token", "limit"}
    assert all(r.headers["authorization"] == KEY for r in sent)


async def test_updated_since_returns_only_threads_changed_at_or_after_it(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    old = await buyer_writes(sandbox, "old", sent_at=T0.isoformat())
    edge = await buyer_writes(sandbox, "edge", sent_at=(T0 + timedelta(hours=1)).isoformat())
    new = await buyer_writes(sandbox, "new", sent_at=(T0 + timedelta(hours=2)).isoformat())

    since = T0 + timedelta(hours=1)
    assert {t.id for t in await collect(client, updated_since=since)} == {
        edge["thread_id"],
        new["thread_id"],
    }

    # A new buyer message makes the old thread changed again: the next sync sees it.
    await buyer_writes(sandbox, "encore moi", thread_id=old["thread_id"])
    later = await collect(client, updated_since=T0 + timedelta(hours=3))
    assert [t.id for t in later] == [old["thread_id"]]
    assert [m.body for m in later[0].messages] == ["old", "encore moi"]


async def test_with_messages_false_lists_threads_without_their_messages(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    await buyer_writes(sandbox, "Où est mon colis ?")

    light = await collect(client, with_messages=False)
    full = await collect(client, with_messages=True)

    assert light[0].messages == [] and "messages" not in light[0].raw
    assert light[0].metadata is not None and light[0].metadata.total_count == 1
    assert [m.body for m in full[0].messages] == ["Où est mon colis ?"]


async def test_entity_filter_keeps_the_threads_of_the_given_orders(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    wanted = await buyer_writes(sandbox, "a", order_id="CRF-1-A")
    await buyer_writes(sandbox, "b", order_id="CRF-2-A")
    await buyer_writes(sandbox, "c", offer_id="OFF-9")

    found = await collect(client, entity_type="MMP_ORDER", entity_ids=["CRF-1-A", "CRF-404-A"])

    assert [t.id for t in found] == [wanted["thread_id"]]


# --- M10: one thread ------------------------------------------------------------------


async def test_get_thread_reads_entities_participants_senders_and_attachments(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    photo = b"\x89PNG fake photo"
    created = await buyer_writes(
        sandbox,
        "Le pied de la lampe est fissuré.",
        order_id="CRF-240402-0093-A",
        customer_id="C-209114",
        customer_name="Lucas B.",
        attachments=[
            {
                "name": "photo.png",
                "content_type": "image/png",
                "content_base64": base64.b64encode(photo).decode(),
            }
        ],
    )

    thread = await client.get_thread(created["thread_id"])

    assert thread.id == created["thread_id"]
    assert [(e.type, e.id) for e in thread.entities] == [("MMP_ORDER", "CRF-240402-0093-A")]
    assert {p.type for p in thread.authorized_participants} == {"CUSTOMER", "OPERATOR", "SHOP"}
    (message,) = thread.messages
    assert message.id == created["message_id"]
    assert message.sender.party == "CUSTOMER"
    assert message.sender.display_name == "Lucas B."
    assert [p.type for p in message.to] == ["SHOP"]
    assert [(a.name, a.size) for a in message.attachments] == [("photo.png", len(photo))]
    assert thread.metadata is not None
    assert thread.metadata.shop_reply_needed_since == message.date_created


# --- M12: replies ---------------------------------------------------------------------


async def test_reply_arrives_in_the_sandbox_with_its_recipients(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    created = await buyer_writes(sandbox, "Bonjour, où est ma commande ?", customer_id="C-1")

    result = await client.reply(
        created["thread_id"], "Bonjour, elle part demain.", [CUSTOMER, OPERATOR]
    )

    assert result.thread_id == created["thread_id"] and result.message_id
    (arrived,) = (await sandbox.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"]
    assert arrived["message_id"] == result.message_id
    assert arrived["body"] == "Bonjour, elle part demain."
    assert {r["type"] for r in arrived["to"]} == {"CUSTOMER", "OPERATOR"}
    thread = await client.get_thread(created["thread_id"])
    assert thread.messages[-1].id == result.message_id
    assert thread.messages[-1].sender.party == "SHOP"
    assert thread.metadata is not None and thread.metadata.shop_reply_needed_since is None


async def test_reply_with_an_attachment_can_be_downloaded_back_intact(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    created = await buyer_writes(sandbox, "Pouvez-vous m'envoyer la facture ?")
    pdf = b"%PDF-1.4 facture\n%%EOF\n"

    result = await client.reply(
        created["thread_id"],
        "Voici votre facture.",
        [CUSTOMER],
        [OutgoingFile("facture-n°12.pdf", pdf, "application/pdf")],
    )

    (arrived,) = (await sandbox.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"]
    (attachment,) = arrived["attachments"]
    assert attachment["name"] == "facture-n°12.pdf"
    assert attachment["size"] == len(pdf)
    assert attachment["content_type"] == "application/pdf"
    thread = await client.get_thread(result.thread_id)
    listed = thread.messages[-1].attachments[0]
    assert listed.id == attachment["id"]

    downloaded = await client.download_attachment(listed.id)

    assert downloaded.content == pdf
    assert downloaded.name == "facture-n°12.pdf"
    assert downloaded.content_type == "application/pdf"
    assert downloaded.size == len(pdf)


async def test_buyer_attachment_downloads_with_its_name_and_type(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    photo = bytes(range(256)) * 4
    created = await buyer_writes(
        sandbox,
        "Photo du colis abîmé",
        attachments=[
            {
                "name": "colis abîmé.jpg",
                "content_type": "image/jpeg",
                "content_base64": base64.b64encode(photo).decode(),
            }
        ],
    )

    downloaded = await client.download_attachment(created["attachments"][0]["id"])

    assert (downloaded.name, downloaded.content_type) == ("colis abîmé.jpg", "image/jpeg")
    assert downloaded.content == photo


async def test_refused_reply_is_a_bad_request_with_mirakls_reason(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    created = await buyer_writes(sandbox, "Bonjour")

    with pytest.raises(BadRequest, match="body"):
        await client.reply(created["thread_id"], "   ", [CUSTOMER])
    with pytest.raises(BadRequest, match=r"message_input\.to is required"):
        await client.reply(created["thread_id"], "Bonjour", [])

    operator_thread = await sandbox.post(
        "/_sandbox/mirakl/carrefour/messages", json={"body": "Retards", "sender": "OPERATOR"}
    )
    with pytest.raises(BadRequest, match="CUSTOMER is not an authorized participant") as info:
        await client.reply(operator_thread.json()["thread_id"], "Bonjour", [CUSTOMER])
    assert info.value.status == 400
    assert (await sandbox.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"] == []


# --- errors ---------------------------------------------------------------------------


async def test_a_wrong_key_is_an_authentication_failure_that_never_shows_the_key(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    await buyer_writes(sandbox, "Bonjour")
    secret = "not-the-key-1234"
    client = MiraklClient(BASE, secret, http=http)

    with pytest.raises(AuthenticationFailed) as info:
        await collect(client)

    assert info.value.status == 401
    assert secret not in str(info.value) and secret not in repr(client)
    assert KEY not in repr(MiraklClient(BASE, KEY, http=http))


async def test_shop_id_is_sent_and_a_shop_out_of_reach_is_refused(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient, sent: list[httpx.Request]
) -> None:
    await sandbox.put("/_sandbox/mirakl/carrefour", json={"shop_id": 2001})
    await buyer_writes(sandbox, "Bonjour")

    threads = await collect(MiraklClient(BASE, KEY, shop_id=2001, http=http))
    assert len(threads) == 1 and sent[-1].url.params["shop_id"] == "2001"

    with pytest.raises(AuthenticationFailed) as info:
        await collect(MiraklClient(BASE, KEY, shop_id=9999, http=http))
    assert info.value.status == 403


async def test_unknown_thread_and_attachment_are_not_found(client: MiraklClient) -> None:
    with pytest.raises(NotFound):
        await client.get_thread("no-such-thread")
    with pytest.raises(NotFound):
        await client.reply("no-such-thread", "Bonjour", [CUSTOMER])
    with pytest.raises(NotFound):
        await client.download_attachment("no-such-attachment")


# --- faults ---------------------------------------------------------------------------


async def test_rate_limit_carries_retry_after_and_the_next_call_goes_through(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    await buyer_writes(sandbox, "Bonjour")
    await arm(sandbox, kind="rate_limit", retry_after=17)

    with pytest.raises(RateLimited) as info:
        await collect(client)

    assert info.value.retry_after == 17.0 and info.value.retry_after_seconds == 17.0
    assert len(await collect(client)) == 1


async def test_server_errors_are_marketplace_unavailable(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    created = await buyer_writes(sandbox, "Bonjour")
    await arm(sandbox, kind="server_error", count=2, status=503, operations=["M10", "M12"])

    with pytest.raises(MarketplaceUnavailable) as first:
        await client.get_thread(created["thread_id"])
    with pytest.raises(MarketplaceUnavailable):
        await client.reply(created["thread_id"], "Bonjour", [CUSTOMER])

    assert first.value.status == 503
    assert (await sandbox.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"] == []
    assert (await client.get_thread(created["thread_id"])).id == created["thread_id"]


async def test_a_slow_marketplace_times_out_as_unavailable(
    sandbox: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    await arm(sandbox, kind="slow", delay_seconds=2.0)
    impatient = MiraklClient(BASE, KEY, http=http, timeout=0.2)

    with pytest.raises(MarketplaceUnavailable, match="no answer within"):
        await collect(impatient)


async def test_a_malformed_thread_names_itself_so_it_can_be_dead_lettered(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    first = await buyer_writes(sandbox, "un", sent_at=T0.isoformat())
    second = await buyer_writes(sandbox, "deux", sent_at=(T0 + timedelta(minutes=1)).isoformat())
    await arm(sandbox, kind="malformed", count=2, operations=["M11"])

    # Strict listing stops at the malformed thread (the newest comes first) …
    with pytest.raises(MiraklPayloadError) as info:
        await collect(client)
    assert info.value.thread_id == second["thread_id"]
    assert "date_updated" in info.value.reason
    assert isinstance(info.value.payload, dict)

    # … the tolerant one hands it over as an error value and goes on.
    results = [r async for r in client.list_thread_results(None)]
    assert isinstance(results[0], MiraklPayloadError)
    assert results[0].thread_id == second["thread_id"]
    assert isinstance(results[1], MiraklThread) and results[1].id == first["thread_id"]


async def test_malformed_single_thread_and_garbage_pages_are_payload_errors(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    created = await buyer_writes(sandbox, "Bonjour")
    await arm(sandbox, kind="malformed", operations=["M10"])
    with pytest.raises(MiraklPayloadError) as info:
        await client.get_thread(created["thread_id"])
    assert info.value.thread_id == created["thread_id"]

    await arm(sandbox, kind="garbage", operations=["M11"])
    with pytest.raises(MiraklPayloadError, match="not JSON"):
        await collect(client)


async def test_a_reply_whose_answer_is_malformed_was_still_posted(
    sandbox: httpx.AsyncClient, client: MiraklClient
) -> None:
    created = await buyer_writes(sandbox, "Bonjour")
    await arm(sandbox, kind="malformed", operations=["M12"])

    with pytest.raises(MiraklPayloadError, match="message id") as info:
        await client.reply(created["thread_id"], "Bonjour !", [CUSTOMER])

    assert info.value.thread_id == created["thread_id"]
    replies = (await sandbox.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"]
    assert [r["body"] for r in replies] == ["Bonjour !"]


async def test_network_failures_are_marketplace_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        client = MiraklClient("https://marketplace.example/api", KEY, http=http)
        with pytest.raises(MarketplaceUnavailable, match="could not reach"):
            await client.get_thread("t")
