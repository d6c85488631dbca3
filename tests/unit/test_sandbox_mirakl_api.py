"""The sandbox's Mirakl API on the wire: raw HTTP, no Parley client in between.

These pin the documented details a client could paper over: field presence, error
bodies, pagination tokens in both directions, parameter validation and M12 limits.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parley_sandbox import create_app
from parley_sandbox.mirakl.store import MAX_ATTACHMENTS_PER_ENTITY, MiraklSandbox

AUTH = {"Authorization": "sandbox-shop-key"}
API = "/mirakl/carrefour/api"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


async def write(web: httpx.AsyncClient, body: str = "Bonjour", **fields: Any) -> dict[str, Any]:
    answer = await web.post("/_sandbox/mirakl/carrefour/messages", json={"body": body, **fields})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def threads(web: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await web.get(f"{API}/inbox/threads", params=params, headers=AUTH)


def reply_form(message_input: Any) -> dict[str, Any]:
    text = message_input if isinstance(message_input, str) else json.dumps(message_input)
    return {"files": [("message_input", (None, text.encode(), "application/json"))]}


# --- M11 ------------------------------------------------------------------------------


async def test_m11_pages_forward_and_back_with_opaque_tokens(web: httpx.AsyncClient) -> None:
    ids = [
        (await write(web, f"m{n}", sent_at=(T0 + timedelta(minutes=n)).isoformat()))["thread_id"]
        for n in range(5)
    ]
    newest_first = list(reversed(ids))

    first = (await threads(web, limit=2)).json()
    assert [t["id"] for t in first["data"]] == newest_first[:2]
    assert "previous_page_token" not in first

    second = (await threads(web, page_token=first["next_page_token"])).json()
    assert [t["id"] for t in second["data"]] == newest_first[2:4]

    last = (await threads(web, page_token=second["next_page_token"])).json()
    assert [t["id"] for t in last["data"]] == newest_first[4:]
    assert "next_page_token" not in last

    back = (await threads(web, page_token=second["previous_page_token"])).json()
    assert [t["id"] for t in back["data"]] == newest_first[:2]


async def test_m11_token_keeps_its_query_and_new_threads_do_not_shift_pages(
    web: httpx.AsyncClient,
) -> None:
    ids = [
        (await write(web, f"m{n}", sent_at=(T0 + timedelta(minutes=n)).isoformat()))["thread_id"]
        for n in range(4)
    ]
    first = (await threads(web, limit=2, sort="date_updated,ASC")).json()
    newest = (await write(web, "arrives between two page calls"))["thread_id"]

    # Repeated parameters are ignored: the token carries limit, order and filters.
    second = (
        await threads(web, page_token=first["next_page_token"], limit=50, with_messages="true")
    ).json()
    third = (await threads(web, page_token=second["next_page_token"])).json()

    assert [t["id"] for t in first["data"]] == ids[:2]
    assert [t["id"] for t in second["data"]] == ids[2:]
    assert all("messages" not in t for t in second["data"])
    assert [t["id"] for t in third["data"]] == [newest]


async def test_m11_fields_follow_the_documentation(web: httpx.AsyncClient) -> None:
    await write(web, "Bonjour", customer_id="C-1", customer_name="Camille M.", order_id="O-1-A")

    (thread,) = (await threads(web, with_messages="true")).json()["data"]

    assert {
        "authorized_participants",
        "current_participants",
        "date_created",
        "date_updated",
        "entities",
        "id",
        "messages",
        "metadata",
        "topic",
    } <= set(thread)
    operator = next(p for p in thread["authorized_participants"] if p["type"] == "OPERATOR")
    assert "id" not in operator  # "When type equals OPERATOR, no id will be returned"
    assert thread["entities"] == [{"id": "O-1-A", "label": "O-1", "type": "MMP_ORDER"}]
    (message,) = thread["messages"]
    assert message["from"]["type"] == "CUSTOMER_USER"
    assert message["from"]["organization_details"] == {
        "display_name": "Camille M.",
        "id": "C-1",
        "type": "CUSTOMER",
    }
    assert message["date_created"].endswith("Z")
    assert thread["metadata"]["total_count"] == 1
    assert thread["metadata"]["shop_reply_needed_since"] == message["date_created"]


async def test_m11_lists_at_most_the_last_100_messages_m10_all(web: httpx.AsyncClient) -> None:
    thread_id = (await write(web, "message 0"))["thread_id"]
    for n in range(1, 105):
        await write(web, f"message {n}", thread_id=thread_id)

    (listed,) = (await threads(web, with_messages="true")).json()["data"]
    full = (await web.get(f"{API}/inbox/threads/{thread_id}", headers=AUTH)).json()

    assert len(listed["messages"]) == 100 and listed["messages"][0]["body"] == "message 5"
    assert len(full["messages"]) == 105
    assert listed["metadata"]["total_count"] == 105


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"entity_id": "O-1"}, "entity_type must be specified"),
        ({"entity_type": "PARCEL"}, "entity_type"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"with_messages": "yes"}, "with_messages"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"shop_id": "abc"}, "shop_id"),
        ({"sort": "topic,ASC"}, "sort"),
    ],
)
async def test_m11_bad_parameters_get_mirakls_400(
    web: httpx.AsyncClient, params: dict[str, str], reason: str
) -> None:
    answer = await threads(web, **params)

    assert answer.status_code == 400
    assert answer.json()["status"] == 400
    assert reason in answer.json()["message"]


async def test_m11_token_of_another_instance_is_refused(web: httpx.AsyncClient) -> None:
    for n in range(3):
        await write(web, f"m{n}")
    token = (await threads(web, limit=1)).json()["next_page_token"]

    answer = await web.get(
        "/mirakl/empik/api/inbox/threads", params={"page_token": token}, headers=AUTH
    )

    assert answer.status_code == 400


async def test_missing_or_wrong_key_is_401_with_an_error_body(web: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "nope"}, {"Authorization": "Bearer sandbox-shop-key"}):
        answer = await web.get(f"{API}/inbox/threads", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {
            "message": "Unauthorized: invalid or missing API key",
            "status": 401,
        }


# --- M10 / M13 ------------------------------------------------------------------------


async def test_unknown_thread_and_attachment_are_404(web: httpx.AsyncClient) -> None:
    thread = await web.get(f"{API}/inbox/threads/nope", headers=AUTH)
    attachment = await web.get(f"{API}/inbox/threads/nope/download", headers=AUTH)

    assert (thread.status_code, thread.json()["status"]) == (404, 404)
    assert attachment.status_code == 404


# --- M12 ------------------------------------------------------------------------------


async def test_m12_answers_201_with_message_and_thread_ids(web: httpx.AsyncClient) -> None:
    thread_id = (await write(web))["thread_id"]

    answer = await web.post(
        f"{API}/inbox/threads/{thread_id}/message",
        headers=AUTH,
        **reply_form(
            {
                "body": "Bonjour, c'est en route.",
                "to": [{"type": "CUSTOMER"}],
                "topic": {"type": "FREE_TEXT", "value": "Livraison"},
            }
        ),
    )

    assert answer.status_code == 201
    assert set(answer.json()) == {"message_id", "thread_id"}
    thread = (await web.get(f"{API}/inbox/threads/{thread_id}", headers=AUTH)).json()
    assert thread["topic"] == {"type": "FREE_TEXT", "value": "Livraison"}
    assert thread["messages"][-1]["from"]["type"] == "SHOP_USER"
    assert "shop_reply_needed_since" not in thread["metadata"]


@pytest.mark.parametrize(
    ("message_input", "reason"),
    [
        ("{not json", "not valid JSON"),
        ([], "JSON object"),
        ({"to": [{"type": "CUSTOMER"}]}, "body"),
        ({"body": "", "to": [{"type": "CUSTOMER"}]}, "body"),
        ({"body": "Bonjour"}, "to"),
        ({"body": "Bonjour", "to": [{"type": "BUYER"}]}, "recipient type"),
        ({"body": "Bonjour", "to": [{"type": "SHOP"}]}, "itself"),
        ({"body": "Bonjour", "to": [{"type": "CUSTOMER", "id": "C-other"}]}, "Unknown CUSTOMER"),
        ({"body": "Bonjour", "to": [{"type": "OPERATOR"}], "topic": {"type": "X"}}, "topic"),
    ],
)
async def test_m12_refuses_bad_input_with_400(
    web: httpx.AsyncClient, message_input: Any, reason: str
) -> None:
    thread_id = (await write(web, customer_id="C-1"))["thread_id"]

    answer = await web.post(
        f"{API}/inbox/threads/{thread_id}/message", headers=AUTH, **reply_form(message_input)
    )

    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["message"]
    replies = (await web.get("/_sandbox/mirakl/carrefour/replies")).json()["replies"]
    assert replies == []


async def test_m12_needs_multipart_with_message_input(web: httpx.AsyncClient) -> None:
    thread_id = (await write(web))["thread_id"]
    url = f"{API}/inbox/threads/{thread_id}/message"

    as_json = await web.post(url, headers=AUTH, json={"body": "x", "to": [{"type": "CUSTOMER"}]})
    no_input = await web.post(url, headers=AUTH, files=[("files", ("a.txt", b"a", "text/plain"))])

    assert as_json.status_code == 400 and "multipart" in as_json.json()["message"]
    assert no_input.status_code == 400 and "message_input" in no_input.json()["message"]


async def test_m12_accepts_message_input_sent_as_a_file_part(web: httpx.AsyncClient) -> None:
    thread_id = (await write(web))["thread_id"]
    payload = json.dumps({"body": "Bonjour", "to": [{"type": "CUSTOMER"}]}).encode()

    answer = await web.post(
        f"{API}/inbox/threads/{thread_id}/message",
        headers=AUTH,
        files=[("message_input", ("blob", payload, "application/json"))],
    )

    assert answer.status_code == 201


def test_attachments_are_capped_per_entity_across_its_threads() -> None:
    sandbox = MiraklSandbox(seed=False)
    instance = sandbox.instance("carrefour")
    entity = [{"id": "O-1-A", "label": "O-1", "type": "MMP_ORDER"}]
    first = instance.open_thread(topic="a", entities=entity, customer=None)
    second = instance.open_thread(topic="b", entities=entity, customer=None)
    files = [(f"f{n}.txt", "text/plain", b"x") for n in range(MAX_ATTACHMENTS_PER_ENTITY - 1)]
    instance.post(first, sender=instance.shop, body="many", to=[instance.operator], files=files)
    instance.post(
        second, sender=instance.shop, body="one more", to=[instance.operator], files=files[:1]
    )

    with pytest.raises(Exception, match="At most 50 attachments"):
        instance.post(
            second, sender=instance.shop, body="too many", to=[instance.operator], files=files[:1]
        )
