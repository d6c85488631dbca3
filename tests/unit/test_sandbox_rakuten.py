"""The sandbox's Rakuten France sales web services on the wire: raw HTTP and XML.

These pin what a client could paper over: mandatory parameters and their documented
error texts, version checks, the answer documents' shapes and dates, the to-do
list's rules and paging, ``contactuseraboutitem``'s documented conditions, faults
and the seed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parley_sandbox import create_app
from parley_sandbox.rakuten.store import DEFAULT_LOGIN, DEFAULT_TOKEN
from parley_sandbox.rakuten.wire import parse_rakuten_date

WS = "/rakuten/fr/sales_ws"
ERROR_NS = "https://static.fr.shopping.rakuten.com/res/schema/error"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AUTH = {"login": DEFAULT_LOGIN, "pwd": DEFAULT_TOKEN}


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


def strip(root: ET.Element) -> ET.Element:
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    return root


def parse(response: httpx.Response) -> ET.Element:
    return strip(ET.fromstring(response.content))  # noqa: S314 - the sandbox's own answer


async def call(web: httpx.AsyncClient, action: str, version: str, **params: str) -> httpx.Response:
    return await web.get(WS, params={"action": action, "version": version, **AUTH, **params})


async def write(web: httpx.AsyncClient, body: str = "Bonjour", **fields: Any) -> dict[str, Any]:
    answer = await web.post("/_sandbox/rakuten/fr/messages", json={"body": body, **fields})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def error_of(response: httpx.Response) -> tuple[str, str, str]:
    root = ET.fromstring(response.content)  # noqa: S314 - the sandbox's own answer
    assert root.tag == f"{{{ERROR_NS}}}errorresponse"
    strip(root)
    return (
        root.findtext("error/type") or "",
        root.findtext("error/code") or "",
        (root.findtext("error/details/detail") or "").strip(),
    )


async def test_mandatory_parameters_and_versions(web: httpx.AsyncClient) -> None:
    missing = await web.get(WS, params={"action": "getitemtodolist", "pwd": DEFAULT_TOKEN})
    assert error_of(missing) == ("Sender", "ParameterError", "The parameter login is mandatory")
    old = await call(web, "getitemtodolist", "1999-01-01")
    assert error_of(old)[2] == "The version 1999-01-01 is not supported"
    wrong = await web.get(
        WS, params={"action": "getitemtodolist", "version": "2011-09-01", "login": "x", "pwd": "y"}
    )
    assert wrong.status_code == 401 and error_of(wrong)[1] == "AuthenticationError"


async def test_todo_lists_items_needing_the_seller_and_pages(web: httpx.AsyncClient) -> None:
    await web.put("/_sandbox/rakuten/fr", json={"todo_page_size": 2})
    asked = [
        await write(web, f"q{n}", sent_at=(T0 + timedelta(minutes=n)).isoformat()) for n in range(3)
    ]
    mail = await write(web, "réclamation", sender="RAKUTEN", claim="AMICABLE")

    first = parse(await call(web, "getitemtodolist", "2011-09-01"))
    token = first.findtext("response/nexttoken")
    second = parse(await call(web, "getitemtodolist", "2011-09-01", nexttoken=token or ""))

    assert first.tag == "getitemtodolistresult" and first.findtext("request/user") == DEFAULT_LOGIN
    listed = [i.findtext("itemid") for r in (first, second) for i in r.iter("item")]
    assert listed == [a["itemid"] for a in asked] + [mail["itemid"]]
    assert second.findtext("response/nexttoken") is None
    claim = next(i for i in second.iter("item") if i.findtext("itemid") == mail["itemid"])
    assert [t.text for t in claim.iter("todo")] == ["CLAIM", "MESSAGE_FROM_RAKUTEN"]


async def test_iteminfos_shows_messages_and_mails_newest_first(web: httpx.AsyncClient) -> None:
    asked = await write(web, "Question", buyer="jeanne", sent_at=T0.isoformat())
    await write(
        web,
        "Réclamation ouverte",
        itemid=asked["itemid"],
        sender="RAKUTEN",
        sent_at=(T0 + timedelta(minutes=3)).isoformat(),
    )

    root = parse(await call(web, "getiteminfos", "2017-08-07", itemid=asked["itemid"]))

    item = root.find("response/item")
    assert item is not None and item.findtext("itemid") == asked["itemid"]
    mail, message = [c for c in item if c.tag in ("mail", "message")]
    assert mail.tag == "mail" and [c.tag for c in mail] == [
        "mailid",
        "sender",
        "recipient",
        "senddate",
        "object",
        "content",
        "status",
    ]
    assert message.tag == "message" and [c.tag for c in message] == [
        "sender",
        "recipient",
        "senddate",
        "content",
        "status",
    ]
    assert message.findtext("sender") == "jeanne" and message.findtext("status") == "UNREAD"
    assert message.findtext("senddate") == "02/03/2026-09:00"  # Paris time
    assert parse_rakuten_date(message.findtext("senddate") or "") == T0


async def test_contact_conditions_follow_the_documentation(web: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    fresh = await write(web, "Question")
    late = await write(web, "Question", ordered_at=(now - timedelta(days=43)).isoformat())
    received = await write(
        web,
        "Question",
        ordered_at=(now - timedelta(days=20)).isoformat(),
        received_at=(now - timedelta(days=16)).isoformat(),
    )
    amicable = await write(
        web, "Réclamation", ordered_at=(now - timedelta(days=50)).isoformat(), claim="AMICABLE"
    )
    claimed = await write(web, "Réclamation", claim="OPEN")

    async def contact(itemid: str) -> httpx.Response:
        return await call(
            web, "contactuseraboutitem", "2011-02-02", itemid=itemid, content="Bonjour"
        )

    ok = await contact(fresh["itemid"])
    assert ok.status_code == 200 and parse(ok).findtext("response/status") == "OK"
    assert (await contact(amicable["itemid"])).status_code == 200
    for refused in (late, received, claimed):
        answer = await contact(refused["itemid"])
        assert answer.status_code == 400 and error_of(answer)[1] == "ActionNotAllowed"
    assert (await contact("999")).status_code == 404
    replies = (await web.get("/_sandbox/rakuten/fr/replies")).json()["replies"]
    assert [r["itemid"] for r in replies] == [fresh["itemid"], amicable["itemid"]]


async def test_faults(web: httpx.AsyncClient) -> None:
    asked = await write(web)
    await web.post("/_sandbox/rakuten/fr/faults", json={"kind": "rate_limit", "retry_after": 9})
    limited = await call(web, "getitemtodolist", "2011-09-01")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "9"

    await web.post("/_sandbox/rakuten/fr/faults", json={"kind": "server_error"})
    failed = await call(web, "getitemtodolist", "2011-09-01")
    assert failed.status_code == 500 and error_of(failed)[0] == "ServerError"

    await web.post(
        "/_sandbox/rakuten/fr/faults", json={"kind": "malformed", "operations": ["getiteminfos"]}
    )
    root = parse(await call(web, "getiteminfos", "2017-08-07", itemid=asked["itemid"]))
    assert root.find("response/item/message/senddate") is None

    await web.post("/_sandbox/rakuten/fr/faults", json={"kind": "garbage"})
    with pytest.raises(ET.ParseError):
        parse(await call(web, "getitemtodolist", "2011-09-01"))
    bad = await web.post(
        "/_sandbox/rakuten/fr/faults", json={"kind": "slow", "operations": ["M11"]}
    )
    assert bad.status_code == 400


async def test_seed_has_french_conversations() -> None:
    app = create_app(seed=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as web:
        (account,) = (await web.get("/_sandbox/rakuten")).json()["instances"]
        assert account["items"] == 3 and len(account["todo"]) == 3 and account["replies"] == 0
        root = parse(await call(web, "getiteminfos", "2017-08-07", itemid="1510836652"))
        assert "commande" in (root.findtext("response/item/message/content") or "")


async def test_a_lost_answer_still_delivers_the_message(web: httpx.AsyncClient) -> None:
    asked = await write(web)
    await web.post(
        "/_sandbox/rakuten/fr/faults",
        json={"kind": "lost_answer", "delay_seconds": 0.2, "operations": ["contactuseraboutitem"]},
    )
    answer = await call(
        web, "contactuseraboutitem", "2011-02-02", itemid=asked["itemid"], content="Bonjour"
    )
    assert answer.status_code == 200
    assert len((await web.get("/_sandbox/rakuten/fr/replies")).json()["replies"]) == 1
