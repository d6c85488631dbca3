"""Rakuten France's sales web services, served under ``/rakuten/{instance}/sales_ws``.

``GET /rakuten/fr/sales_ws?action=getiteminfos&login=…&pwd=…&version=…&itemid=…``
answers like ``https://ws.fr.shopping.rakuten.com/sales_ws?…`` would, so a client
only changes its base URL. Actions, parameters and answer elements follow Rakuten's
documentation (see :mod:`parley_connectors.rakuten.client` for the list and the
assumptions); errors are ``errorresponse`` documents.

Sandbox choices where Rakuten publishes nothing: a wrong login or token is HTTP 401
with code ``AuthenticationError``; an unknown item HTTP 404; throttling HTTP 429 with
``Retry-After``; a refused ``contactuseraboutitem`` code ``ActionNotAllowed``; the
to-do list has ``<items><item><itemid/><todo/>…</item></items>`` and pages with a
``nexttoken`` past ``todo_page_size`` items; ``contactuseraboutitem`` answers
``<response><status>OK</status></response>``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import xml.etree.ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley_sandbox.faults import Fault, FaultKind
from parley_sandbox.rakuten.store import (
    MAIL,
    OPEN,
    RakutenAccount,
    RakutenRefusal,
    RakutenSandbox,
    StoredItem,
    StoredMessage,
)
from parley_sandbox.rakuten.wire import rakuten_date

router = APIRouter(prefix="/rakuten/{instance}")

ERROR_NAMESPACE = "https://static.fr.shopping.rakuten.com/res/schema/error"
SCHEMA_ROOT = "http://fr.shopping.rakuten.com/res/schema"
VERSIONS = {
    "getitemtodolist": {"2011-02-02", "2011-09-01"},
    "getiteminfos": {"2011-02-02", "2011-06-01", "2017-08-07"},
    "contactuseraboutitem": {"2011-02-02"},
}
LAST_VERSION = {action: max(versions) for action, versions in VERSIONS.items()}
XML = "text/xml; charset=utf-8"


def sandbox_of(request: Request) -> RakutenSandbox:
    sandbox: RakutenSandbox = request.app.state.rakuten
    return sandbox


def add(parent: ET.Element, name: str, value: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, name)
    if value is not None:
        element.text = value
    return element


def serialize(element: ET.Element) -> bytes:
    data: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return data


def error_response(exc: RakutenRefusal) -> Response:
    root = ET.Element("errorresponse", {"xmlns": ERROR_NAMESPACE})
    error = add(root, "error")
    add(error, "type", exc.type)
    add(error, "code", exc.code)
    add(error, "message", exc.message)
    add(add(error, "details"), "detail", exc.detail)
    headers = {"Retry-After": str(exc.retry_after)} if exc.http_status == 429 else {}
    return Response(serialize(root), exc.http_status, headers=headers, media_type=XML)


async def suffer(fault: Fault | None) -> None:
    if fault is None:
        return
    if fault.kind is FaultKind.RATE_LIMIT:
        raise RakutenRefusal(
            429,
            "Too many requests, please retry later",
            type_="Sender",
            code="RequestLimitExceeded",
            message="Too many requests.",
            retry_after=fault.retry_after,
        )
    if fault.kind is FaultKind.SERVER_ERROR:
        raise RakutenRefusal(
            fault.status,
            "An error occurred, please retry later",
            type_="ServerError",
            code="ServerError",
            message="Server not able to fullfill request.",
        )
    if fault.kind is FaultKind.SLOW:
        await asyncio.sleep(fault.delay_seconds)


def result(action: str, account: RakutenAccount, version: str, **request: str) -> ET.Element:
    root = ET.Element(f"{action}result", {"xmlns": f"{SCHEMA_ROOT}/{action}"})
    asked = add(root, "request")
    add(asked, "version", version)
    add(asked, "user", account.config.login)
    for name, value in request.items():
        add(asked, name, value)
    return root


def answer(element: ET.Element, fault: Fault | None) -> Response:
    if fault is not None and fault.kind is FaultKind.GARBAGE:
        return Response(b"<getiteminfosresult><response><item", media_type=XML)
    return Response(serialize(element), media_type=XML)


@router.api_route("/sales_ws", methods=["GET", "POST"])
async def sales_ws(request: Request, instance: str) -> Response:
    try:
        account = sandbox_of(request).instance(instance)
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for name in ("action", "login", "pwd", "version"):
            if not params.get(name):
                raise RakutenRefusal(400, f"The parameter {name} is mandatory")
        if params["login"] != account.config.login or params["pwd"] != account.config.token:
            raise RakutenRefusal(
                401,
                "Login or token is invalid",
                code="AuthenticationError",
                message="Authentication failed.",
            )
        action = params["action"]
        if action not in VERSIONS:
            raise RakutenRefusal(400, f"The action {action} is not supported")
        if params["version"] not in VERSIONS[action]:
            raise RakutenRefusal(400, f"The version {params['version']} is not supported")
        fault = account.faults.take(action)
        await suffer(fault)
        if action == "getitemtodolist":
            response = getitemtodolist(account, params, fault)
        elif action == "getiteminfos":
            response = getiteminfos(account, params, fault)
        else:
            response = contactuseraboutitem(account, params, fault)
        if fault is not None and fault.kind is FaultKind.LOST_ANSWER:
            await asyncio.sleep(fault.delay_seconds)  # done, but the answer comes too late
        return response
    except RakutenRefusal as exc:
        return error_response(exc)


# --- getitemtodolist ------------------------------------------------------------------


def getitemtodolist(
    account: RakutenAccount, params: dict[str, str], fault: Fault | None
) -> Response:
    todo = account.todo()
    offset = read_token(params.get("nexttoken"))
    size = account.config.todo_page_size
    shown = todo[offset : offset + size]
    root = result("getitemtodolist", account, params["version"])
    response = add(root, "response")
    add(response, "lastversion", LAST_VERSION["getitemtodolist"])
    items = add(response, "items")
    for item in shown:
        element = add(items, "item")
        add(element, "itemid", item.itemid)
        for nature in natures(item, account.config.login):
            add(element, "todo", nature)
    if offset + size < len(todo):
        add(response, "nexttoken", base64.urlsafe_b64encode(str(offset + size).encode()).decode())
    if fault is not None and fault.kind is FaultKind.MALFORMED and len(items):
        first = items[0]
        for child in list(first):
            if child.tag == "itemid":
                first.remove(child)
    return answer(root, fault)


def natures(item: StoredItem, login: str) -> list[str]:
    out = []
    if item.claim is not None:
        out.append("CLAIM")
    unread = [m for m in item.messages if m.status == "UNREAD" and m.sender != login]
    if any(m.kind != MAIL for m in unread):
        out.append("MESSAGE_FROM_BUYER")
    if any(m.kind == MAIL for m in unread):
        out.append("MESSAGE_FROM_RAKUTEN")
    return out


def read_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise RakutenRefusal(400, "The parameter nexttoken is invalid") from exc


# --- getiteminfos ---------------------------------------------------------------------


def getiteminfos(account: RakutenAccount, params: dict[str, str], fault: Fault | None) -> Response:
    itemid = params.get("itemid")
    if not itemid:
        raise RakutenRefusal(400, "The parameter itemid is mandatory")
    item = account.items.get(itemid)
    if item is None:
        raise RakutenRefusal(404, f"The item {itemid} does not exist")
    root = result("getiteminfos", account, params["version"], itemid=itemid)
    response = add(root, "response")
    add(response, "lastversion", LAST_VERSION["getiteminfos"])
    add(response, "sellerid", account.config.seller_id)
    element = add(response, "item")
    add(element, "itemid", item.itemid)
    add(element, "purchaseid", item.purchaseid)
    add(element, "date", rakuten_date(item.ordered_at))
    add(element, "headline", item.headline)
    add(element, "itemstatus", "ON_HOLD" if item.claim else "COMMITTED")
    add(element, "shipped", "1" if item.received_at else "0")
    state = {None: "COMMITTED", "AMICABLE": "CLAIMED_AMICABLE", OPEN: "CLAIMED"}[item.claim]
    add(element, "itemstate", state)
    labels = {
        "COMMITTED": "Vente confirmée",
        "CLAIMED_AMICABLE": "Réclamation en cours. Traitement à l'amiable avec l'acheteur",
        "CLAIMED": "Réclamation en cours",
    }
    add(element, "itemstatelabel", labels[state])
    if item.claim is not None:
        claim = add(element, "claim")
        add(claim, "type", "DAMAGED")
        add(claim, "state", "NEW")
        add(claim, "amicable", "Y" if item.claim == "AMICABLE" else "N")
        add(claim, "claimcomment", item.claim_comment or "")
    actions = add(element, "availableactions")
    action = add(actions, "action")
    add(action, "title", f"Contacter {item.buyer}")
    add(action, "actioncode", "contactuseraboutitem")
    # Newest first, as the documentation's example; a tie keeps the later write first.
    shown = list(reversed(sorted(item.messages, key=lambda m: m.sent_at)))
    nodes = [message_element(element, m) for m in shown]
    if fault is not None and fault.kind is FaultKind.MALFORMED and nodes:
        for child in list(nodes[0]):
            if child.tag == "senddate":
                nodes[0].remove(child)
    return answer(root, fault)


def message_element(parent: ET.Element, message: StoredMessage) -> ET.Element:
    element = add(parent, message.kind)
    if message.kind == MAIL:
        add(element, "mailid", message.mail_id)
    add(element, "sender", message.sender)
    add(element, "recipient", message.recipient)
    add(element, "senddate", rakuten_date(message.sent_at))
    if message.kind == MAIL:
        add(element, "object", message.subject or "")
    add(element, "content", message.content)
    add(element, "status", message.status)
    return element


# --- contactuseraboutitem -------------------------------------------------------------


def contactuseraboutitem(
    account: RakutenAccount, params: dict[str, str], fault: Fault | None
) -> Response:
    itemid = params.get("itemid")
    if not itemid:
        raise RakutenRefusal(400, "The parameter itemid is mandatory")
    item = account.items.get(itemid)
    if item is None:
        raise RakutenRefusal(404, f"The item {itemid} does not exist")
    account.seller_writes(item, params.get("content") or "")
    root = result("contactuseraboutitem", account, params["version"], itemid=itemid)
    response = add(root, "response")
    add(response, "lastversion", LAST_VERSION["contactuseraboutitem"])
    if fault is None or fault.kind is not FaultKind.MALFORMED:
        add(response, "status", "OK")
    return answer(root, fault)
