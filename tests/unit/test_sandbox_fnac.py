"""The sandbox's Fnac Marketplace API on the wire: raw HTTP and XML, no Parley client.

These pin the documented details a client could paper over: the auth exchange,
request headers on every call, element names and order, paging fields, filters,
``messages_update`` lines and errors, and the control API's faults and seed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parley_sandbox import create_app
from parley_sandbox.fnac.store import DEFAULT_KEY, DEFAULT_PARTNER_ID, DEFAULT_SHOP_ID

NS = "http://www.fnac.com/schemas/mp-dialog.xsd"
API = "/fnac/fnac/api.php"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def parse(response: httpx.Response) -> ET.Element:
    return ET.fromstring(response.content)  # noqa: S314 - the sandbox's own answer


async def post(web: httpx.AsyncClient, service: str, xml: str) -> httpx.Response:
    return await web.post(
        f"{API}/{service}", content=xml.encode(), headers={"Content-Type": "text/xml"}
    )


async def token(web: httpx.AsyncClient) -> str:
    answer = await post(
        web,
        "auth",
        f'<auth xmlns="{NS}"><partner_id>{DEFAULT_PARTNER_ID}</partner_id>'
        f"<shop_id>{DEFAULT_SHOP_ID}</shop_id><key>{DEFAULT_KEY}</key></auth>",
    )
    found = parse(answer).findtext(q("token"))
    assert found
    return found


def header(session: str) -> str:
    return (
        f'xmlns="{NS}" partner_id="{DEFAULT_PARTNER_ID}" shop_id="{DEFAULT_SHOP_ID}" '
        f'token="{session}"'
    )


async def query(web: httpx.AsyncClient, session: str, inner: str = "", **attrs: str) -> ET.Element:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    answer = await post(
        web, "messages_query", f"<messages_query {header(session)}{extra}>{inner}</messages_query>"
    )
    assert answer.status_code == 200, answer.text
    return parse(answer)


async def write(web: httpx.AsyncClient, body: str = "Bonjour", **fields: Any) -> dict[str, Any]:
    answer = await web.post("/_sandbox/fnac/fnac/messages", json={"body": body, **fields})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


# --- auth -----------------------------------------------------------------------------


async def test_auth_answers_a_token_and_its_validity(web: httpx.AsyncClient) -> None:
    answer = await post(
        web,
        "auth",
        f'<auth xmlns="{NS}"><partner_id>{DEFAULT_PARTNER_ID}</partner_id>'
        f"<shop_id>{DEFAULT_SHOP_ID}</shop_id><key>{DEFAULT_KEY}</key></auth>",
    )
    root = parse(answer)
    assert root.tag == q("auth_response") and root.get("status") == "OK"
    assert [c.tag for c in root] == [q("token"), q("validity"), q("version")]
    validity = datetime.fromisoformat(root.findtext(q("validity")) or "")
    assert validity > datetime.now(UTC)


async def test_a_wrong_key_is_an_auth_error_answer(web: httpx.AsyncClient) -> None:
    answer = await post(
        web,
        "auth",
        f'<auth xmlns="{NS}"><partner_id>{DEFAULT_PARTNER_ID}</partner_id>'
        f"<shop_id>{DEFAULT_SHOP_ID}</shop_id><key>nope</key></auth>",
    )
    root = parse(answer)
    assert answer.status_code == 200 and root.get("status") == "ERROR"
    error = root.find(q("error"))
    assert error is not None and "partner_id, key, shop_id" in (error.text or "")
    assert error.get("code", "").startswith("ERR_")


async def test_services_need_a_valid_token(web: httpx.AsyncClient) -> None:
    answer = await post(web, "messages_query", f"<messages_query {header('nope')}/>")
    assert answer.status_code == 401
    root = parse(answer)
    assert root.tag == q("messages_query_response") and root.get("status") == "FATAL"
    assert "token" in (root.findtext(q("error")) or "")


async def test_requests_must_be_xml_without_dtd(web: httpx.AsyncClient) -> None:
    session = await token(web)
    broken = await post(web, "messages_query", "<messages_query")
    assert broken.status_code == 400
    dtd = await post(
        web, "messages_query", f'<!DOCTYPE x [<!ENTITY a "b">]><messages_query {header(session)}/>'
    )
    assert dtd.status_code == 400


# --- messages_query -------------------------------------------------------------------


async def test_messages_query_pages_and_counts(web: httpx.AsyncClient) -> None:
    for n in range(5):
        await write(web, f"m{n}", sent_at=(T0 + timedelta(minutes=n)).isoformat())
    session = await token(web)

    root = await query(
        web,
        session,
        '<paging>2</paging><sort_by type="ASC">CREATED_AT</sort_by>',
        results_count="2",
    )

    assert root.get("status") == "OK"
    assert root.findtext(q("page")) == "2" and root.findtext(q("total_paging")) == "3"
    assert root.findtext(q("nb_total_result")) == "5"
    assert root.findtext(q("messages_unread_result")) == "5"
    bodies = [m.findtext(q("message_description")) for m in root.findall(q("message"))]
    assert bodies == ["m2", "m3"]


async def test_message_elements_follow_the_xsd_order(web: httpx.AsyncClient) -> None:
    await write(
        web,
        "Bonjour",
        offer_id="OF-1",
        offer_title="Le Petit Prince",
        sender_name="Sophie",
        attachments=[{"name": "a.txt", "content_base64": "YQ==", "content_type": "text/plain"}],
    )
    root = await query(web, await token(web))
    (message,) = root.findall(q("message"))
    assert message.get("state") == "UNREAD" and message.get("archived") == "FALSE"
    assert [c.tag for c in message] == [
        q(n)
        for n in (
            "message_id",
            "message_referer",
            "message_from",
            "message_offer_title",
            "message_subject",
            "message_description",
            "created_at",
            "updated_at",
            "message_file",
        )
    ]
    referer = message.find(q("message_referer"))
    sender = message.find(q("message_from"))
    assert referer is not None and (referer.get("type"), referer.text) == ("OFFER", "OF-1")
    assert sender is not None and (sender.get("type"), sender.text) == ("CLIENT", "Sophie")
    url = message.findtext(f"{q('message_file')}/{q('url')}") or ""
    assert (await web.get(url.removeprefix("http://sandbox"))).content == b"a"


async def test_messages_query_filters(web: httpx.AsyncClient) -> None:
    old = await write(web, "ancien", order_id="AAAA000000001", sent_at=T0.isoformat())
    new = await write(
        web, "récent", order_id="BBBB000000002", sent_at=(T0 + timedelta(days=1)).isoformat()
    )
    session = await token(web)

    since = await query(
        web,
        session,
        f'<date type="UpdatedAt"><min>{(T0 + timedelta(hours=1)).isoformat()}</min></date>',
    )
    by_order = await query(web, session, "<order_fnac_id>AAAA000000001</order_fnac_id>")

    def ids(root: ET.Element) -> list[str | None]:
        return [m.findtext(q("message_id")) for m in root.findall(q("message"))]

    assert ids(since) == [new["message_id"]]
    assert ids(by_order) == [old["message_id"]]


async def test_bad_query_parameters_are_error_answers(web: httpx.AsyncClient) -> None:
    session = await token(web)
    too_many = await query(web, session, results_count="500")
    bad_date = await query(web, session, '<date type="Yesterday"><min>x</min></date>')
    for root in (too_many, bad_date):
        assert root.get("status") == "ERROR" and root.find(q("error")) is not None


# --- messages_update ------------------------------------------------------------------


def reply_line(message_id: str, to: str = "CLIENT", text: str = "Bonjour") -> str:
    return (
        f'<message action="reply" id="{message_id}"><message_to>{to}</message_to>'
        "<message_subject>order_information</message_subject>"
        f"<message_description>{text}</message_description>"
        "<message_type>ORDER</message_type></message>"
    )


async def test_reply_answers_one_line_per_message(web: httpx.AsyncClient) -> None:
    asked = await write(web, "Question", sent_at=T0.isoformat())
    session = await token(web)

    answer = await post(
        web,
        "messages_update",
        f"<messages_update {header(session)}>{reply_line(asked['message_id'])}</messages_update>",
    )

    root = parse(answer)
    assert root.get("status") == "OK"
    (line,) = root.findall(q("message"))
    assert (line.get("status"), line.get("id")) == ("OK", asked["message_id"])
    listed = await query(web, session, '<sort_by type="ASC">CREATED_AT</sort_by>')
    first, second = listed.findall(q("message"))
    assert first.findtext(q("answer")) == "Bonjour" and first.get("state") == "READ"
    assert second.find(q("message_from")) is not None
    assert second.find(q("message_from")).get("type") == "SELLER"  # type: ignore[union-attr]


async def test_callcenter_is_reachable_only_on_orders_in_incident(web: httpx.AsyncClient) -> None:
    plain = await write(web, "Question", order_id="AAAA000000001")
    claimed = await write(web, "Réclamation", order_id="BBBB000000002", incident=True)
    session = await token(web)

    answer = await post(
        web,
        "messages_update",
        f"<messages_update {header(session)}>"
        f"{reply_line(plain['message_id'], 'CALLCENTER')}"
        f"{reply_line(claimed['message_id'], 'CALLCENTER')}</messages_update>",
    )

    root = parse(answer)
    refused, accepted = root.findall(q("message"))
    assert root.get("status") == "ERROR"
    assert refused.get("status") == "ERROR" and "incident" in (refused.findtext(q("error")) or "")
    assert accepted.get("status") == "OK"
    replies = (await web.get("/_sandbox/fnac/fnac/replies")).json()["replies"]
    assert [r["to"] for r in replies] == ["CALLCENTER"]


# --- faults and control ---------------------------------------------------------------


async def test_faults_are_taken_in_order_and_only_after_authentication(
    web: httpx.AsyncClient,
) -> None:
    await write(web)
    session = await token(web)
    armed = await web.post(
        "/_sandbox/fnac/fnac/faults",
        json={"kind": "rate_limit", "retry_after": 7, "operations": ["messages_query"]},
    )
    assert armed.status_code == 201
    refused = await post(web, "messages_query", f"<messages_query {header('nope')}/>")
    assert refused.status_code == 401  # did not consume the fault
    limited = await post(web, "messages_query", f"<messages_query {header(session)}/>")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert parse(limited).get("status") == "FATAL"

    await web.post("/_sandbox/fnac/fnac/faults", json={"kind": "server_error", "status": 502})
    assert (
        await post(web, "messages_query", f"<messages_query {header(session)}/>")
    ).status_code == 502

    await web.post("/_sandbox/fnac/fnac/faults", json={"kind": "malformed"})
    root = await query(web, session)
    (message,) = root.findall(q("message"))
    assert message.find(q("message_description")) is None

    await web.post("/_sandbox/fnac/fnac/faults", json={"kind": "garbage"})
    garbage = await post(web, "messages_query", f"<messages_query {header(session)}/>")
    with pytest.raises(ET.ParseError):
        parse(garbage)
    assert (await web.get("/_sandbox/fnac/fnac/faults")).json() == {"faults": []}


async def test_unknown_fault_operations_are_refused(web: httpx.AsyncClient) -> None:
    answer = await web.post(
        "/_sandbox/fnac/fnac/faults", json={"kind": "slow", "operations": ["M11"]}
    )
    assert answer.status_code == 400


async def test_seed_has_french_conversations_and_reset_restores_them() -> None:
    app = create_app(seed=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as web:
        shops = {s["name"]: s for s in (await web.get("/_sandbox/fnac")).json()["instances"]}
        assert shops["fnac"]["conversations"] == 3 and shops["darty"]["conversations"] == 1
        assert shops["fnac"]["replies"] == 0  # seeded history is not something Parley sent
        await write(web, "en plus")
        reset = await web.post("/_sandbox/fnac/reset", json={"instance": "fnac"})
        fnac = next(s for s in reset.json()["instances"] if s["name"] == "fnac")
        assert fnac["messages"] == shops["fnac"]["messages"]
        root = await query(web, await token(web))
        texts = " ".join(
            m.findtext(q("message_description")) or "" for m in root.iter(q("message"))
        )
        assert "commande" in texts


async def test_a_lost_answer_still_delivers_the_reply(web: httpx.AsyncClient) -> None:
    asked = await write(web, "Question")
    session = await token(web)
    await web.post(
        "/_sandbox/fnac/fnac/faults",
        json={"kind": "lost_answer", "delay_seconds": 0.2, "operations": ["messages_update"]},
    )
    answer = await post(
        web,
        "messages_update",
        f"<messages_update {header(session)}>{reply_line(asked['message_id'])}</messages_update>",
    )
    assert answer.status_code == 200
    assert len((await web.get("/_sandbox/fnac/fnac/replies")).json()["replies"]) == 1
