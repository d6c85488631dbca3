"""The Fnac Marketplace API's messaging services, served under ``/fnac/{instance}``.

``POST /fnac/fnac/api.php/messages_query`` answers like
``POST https://vendeur.fnac.com/api.php/messages_query`` would, so a client only
changes its base URL. Services, elements and attributes follow Fnac's XSDs (see
:mod:`parley_connectors.fnac.client` for the list and the assumptions).

Sandbox choices where Fnac publishes nothing (a client must not depend on them
beyond what its docstring says): error codes ``ERR_001`` (authentication),
``ERR_002`` (token), ``ERR_003`` (request), ``ERR_004`` (unknown message),
``ERR_005`` (recipient), ``ERR_429``/``ERR_500``; a refused or expired token is
answered HTTP 401 with a FATAL body; throttling is HTTP 429 with ``Retry-After``;
``results_count`` above 100 is refused. A reply shows up twice, as Fnac's schema
allows both: as ``answer``/``answer_at`` on the message replied to, and as a new
SELLER message of the conversation. Requests are parsed with the standard library
(the sandbox only ever talks to tests and demos).
"""

from __future__ import annotations

import asyncio
import math
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from parley_sandbox.faults import Fault, FaultKind
from parley_sandbox.fnac import wire
from parley_sandbox.fnac.store import (
    CALLCENTER,
    CLIENT,
    OFFER,
    ORDER,
    SELLER,
    FnacRefusal,
    FnacSandbox,
    FnacShop,
    to_second,
)

router = APIRouter(prefix="/fnac/{instance}")

MAX_RESULTS = 100
DEFAULT_RESULTS = 100  # documented default of results_count
DATE_TYPES = frozenset(
    {
        "CreatedAt",
        "UpdatedAt",
        "AcceptedAt",
        "ReceivedAt",
        "DebitedAt",
        "ShippedAt",
        "RefusedAt",
        "CancelledAt",
    }
)
ACTIONS = frozenset(
    {
        "mark_as_read",
        "mark_as_unread",
        "archive",
        "mark_as_read_and_archive",
        "unarchive",
        "reply",
        "create",
        "confirm_shop_delivery",
    }
)
RECIPIENTS = frozenset({CLIENT, CALLCENTER, "ALL"})
SUBJECTS = frozenset(
    {
        "product_information",
        "shipping_information",
        "order_information",
        "offer_problem",
        "offer_not_received",
        "other_question",
    }
)
XML = "text/xml; charset=utf-8"


def sandbox_of(request: Request) -> FnacSandbox:
    sandbox: FnacSandbox = request.app.state.fnac
    return sandbox


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def first(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if local(c.tag) == name), None)


def value(element: ET.Element, name: str) -> str | None:
    found = first(element, name)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


async def read_request(request: Request, service: str) -> ET.Element:
    content_type = request.headers.get("content-type", "")
    if "xml" not in content_type:
        raise FnacRefusal(400, f"{service} expects a text/xml body")
    raw = await request.body()
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        # Entity tricks need a DTD; Fnac's requests never carry one.
        raise FnacRefusal(400, "DTDs are not accepted")
    try:
        root = ET.fromstring(raw)  # noqa: S314 - DTDs refused above; test traffic only
    except ET.ParseError as exc:
        raise FnacRefusal(400, f"The request is not well-formed XML: {exc}") from exc
    if local(root.tag) != service:
        raise FnacRefusal(400, f"Expected a <{service}> request, got <{local(root.tag)}>")
    return root


def refusal_response(service: str, exc: FnacRefusal) -> Response:
    status = "FATAL" if exc.http_status >= 400 else "ERROR"
    answer = wire.root(f"{service}_response", status)
    wire.error(answer, exc.message, exc.code, severity=status)
    headers = {"Retry-After": str(exc.retry_after)} if exc.http_status == 429 else {}
    return Response(wire.serialize(answer), exc.http_status, headers=headers, media_type=XML)


async def suffer(fault: Fault | None) -> None:
    if fault is None:
        return
    if fault.kind is FaultKind.RATE_LIMIT:
        raise FnacRefusal(
            429, "Too many requests, retry later", code="ERR_429", retry_after=fault.retry_after
        )
    if fault.kind is FaultKind.SERVER_ERROR:
        raise FnacRefusal(fault.status, "Internal error, retry later", code="ERR_500")
    if fault.kind is FaultKind.SLOW:
        await asyncio.sleep(fault.delay_seconds)


def xml_answer(element: ET.Element, fault: Fault | None) -> Response:
    if fault is not None and fault.kind is FaultKind.GARBAGE:
        return Response(b"<messages_query_response status=", media_type=XML)
    return Response(wire.serialize(element), media_type=XML)


Handler = Callable[[Request, FnacShop, ET.Element, Fault | None], Awaitable[Response]]


async def serve(request: Request, instance: str, service: str, handler: Handler) -> Response:
    """Instance, request, token, then the fault this call must suffer, then the service.

    Authentication comes before faults so a refused token never consumes one.
    """
    try:
        shop = sandbox_of(request).instance(instance)
        body = await read_request(request, service)
        attrs = body.attrib
        if attrs.get("partner_id") != shop.config.partner_id or (
            attrs.get("shop_id") != shop.config.shop_id
        ):
            raise FnacRefusal(401, "Unknown partner_id or shop_id", code="ERR_001")
        if not shop.token_valid(attrs.get("token")):
            raise FnacRefusal(401, "The token is invalid or has expired", code="ERR_002")
        fault = shop.faults.take(service)
        await suffer(fault)
        response = await handler(request, shop, body, fault)
        if fault is not None and fault.kind is FaultKind.LOST_ANSWER:
            await asyncio.sleep(fault.delay_seconds)  # done, but the answer comes too late
        return response
    except FnacRefusal as exc:
        return refusal_response(service, exc)


# --- auth -----------------------------------------------------------------------------


@router.post("/api.php/auth")
async def auth(request: Request, instance: str) -> Response:
    try:
        shop = sandbox_of(request).instance(instance)
        body = await read_request(request, "auth")
        given = (value(body, "partner_id"), value(body, "shop_id"), value(body, "key"))
        config = shop.config
        if given != (config.partner_id, config.shop_id, config.key):
            answer = wire.root("auth_response", "ERROR")
            wire.error(
                answer,
                "Authentication failed : one of the parameters (partner_id, key, shop_id) "
                "is invalid",
                "ERR_001",
            )
            return Response(wire.serialize(answer), media_type=XML)
        fault = shop.faults.take("auth")
        await suffer(fault)
        token, validity = shop.issue_token()
        answer = wire.root("auth_response")
        wire.add(answer, "token", token)
        wire.add(answer, "validity", wire.xs_datetime(validity))
        wire.add(answer, "version", "2.6.0")
        return xml_answer(answer, fault)
    except FnacRefusal as exc:
        return refusal_response("auth", exc)


# --- messages_query -------------------------------------------------------------------


@router.post("/api.php/messages_query")
async def messages_query(request: Request, instance: str) -> Response:
    return await serve(request, instance, "messages_query", _messages_query)


async def _messages_query(
    request: Request, shop: FnacShop, body: ET.Element, fault: Fault | None
) -> Response:
    filters, page_number, size, descending, sort_field = read_query(body)
    found = shop.query(filters)

    def key(m: Any) -> tuple[datetime, str]:
        return (m.created_at if sort_field == "CREATED_AT" else m.updated_at, m.id)

    found.sort(key=key, reverse=descending)
    total_paging = max(1, math.ceil(len(found) / size))
    shown = found[(page_number - 1) * size : page_number * size]
    answer = wire.root("messages_query_response")
    wire.add(answer, "messages_unread_result", str(sum(m.state == "UNREAD" for m in found)))
    wire.add(answer, "messages_read_result", str(sum(m.state == "READ" for m in found)))
    wire.add(answer, "page", str(page_number))
    wire.add(answer, "total_paging", str(total_paging))
    wire.add(answer, "nb_total_result", str(len(found)))
    base = str(request.base_url).rstrip("/")
    for item in shown:
        wire.message(
            answer, item, lambda file_id: f"{base}/fnac/{shop.config.name}/files/{file_id}"
        )
    if fault is not None and fault.kind is FaultKind.MALFORMED:
        messages = [c for c in answer if c.tag == "message"]
        if messages:
            wire.corrupt(messages[0])
    return xml_answer(answer, fault)


def read_query(
    body: ET.Element,
) -> tuple[dict[str, Any], int, int, bool, str]:
    size = parse_int(body.get("results_count"), "results_count", DEFAULT_RESULTS)
    if not 1 <= size <= MAX_RESULTS:
        raise FnacRefusal(200, f"results_count must be between 1 and {MAX_RESULTS}")
    page_number = parse_int(value(body, "paging"), "paging", 1)
    if page_number < 1:
        raise FnacRefusal(200, "paging must be 1 or more")
    filters: dict[str, Any] = {}
    date = first(body, "date")
    if date is not None:
        date_type = date.get("type")
        if date_type not in DATE_TYPES:
            raise FnacRefusal(200, f"Invalid date type '{date_type}'")
        filters["date_type"] = "CreatedAt" if date_type == "CreatedAt" else "UpdatedAt"
        for bound in ("min", "max"):
            raw = value(date, bound)
            if raw is not None:
                filters[bound] = parse_date(raw, f"date/{bound}")
    for name, allowed in (
        ("message_type", {ORDER, OFFER}),
        ("message_state", {"READ", "UNREAD"}),
    ):
        raw = value(body, name)
        if raw is not None:
            if raw not in allowed:
                raise FnacRefusal(200, f"Invalid value '{raw}' for {name}")
            filters[name] = raw
    archived = value(body, "message_archived")
    if archived is not None:
        if archived not in ("TRUE", "FALSE"):
            raise FnacRefusal(200, f"Invalid value '{archived}' for message_archived")
        filters["message_archived"] = archived == "TRUE"
    for name in ("message_id", "order_fnac_id", "offer_fnac_id"):
        raw = value(body, name)
        if raw is not None:
            filters[name] = raw
    from_types = first(body, "message_from_types")
    if from_types is not None:
        filters["from_types"] = {(c.text or "").strip() for c in from_types}
    sort = first(body, "sort_by")
    descending, sort_field = True, "CREATED_AT"  # assumed default: newest first
    if sort is not None:
        sort_field = (sort.text or "").strip()
        direction = sort.get("type")
        if sort_field not in ("CREATED_AT", "UPDATED_AT") or direction not in ("ASC", "DESC"):
            raise FnacRefusal(200, "sort_by must be CREATED_AT|UPDATED_AT with type ASC|DESC")
        descending = direction == "DESC"
    return filters, page_number, size, descending, sort_field


def parse_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise FnacRefusal(200, f"Invalid value '{raw}' for {name}") from exc


def parse_date(raw: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FnacRefusal(200, f"Invalid date '{raw}' for {name}") from exc
    return to_second(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


# --- messages_update ------------------------------------------------------------------


@router.post("/api.php/messages_update")
async def messages_update(request: Request, instance: str) -> Response:
    return await serve(request, instance, "messages_update", _messages_update)


async def _messages_update(
    request: Request, shop: FnacShop, body: ET.Element, fault: Fault | None
) -> Response:
    lines = [c for c in body if local(c.tag) == "message"]
    if not lines:
        raise FnacRefusal(200, "messages_update needs at least one <message>")
    answer = wire.root("messages_update_response")
    refused = False
    for line in lines:
        message_id = line.get("id") or ""
        result = wire.add(answer, "message", None, status="OK", id=message_id)
        try:
            apply_update(shop, line)
        except FnacRefusal as exc:
            refused = True
            result.set("status", "ERROR")
            wire.error(result, exc.message, exc.code)
    if refused:
        answer.set("status", "ERROR")
    if fault is not None and fault.kind is FaultKind.MALFORMED:
        for result in list(answer):
            answer.remove(result)  # done, but the answer lost its lines
    return xml_answer(answer, fault)


def apply_update(shop: FnacShop, line: ET.Element) -> None:
    action = line.get("action")
    if action not in ACTIONS:
        raise FnacRefusal(200, f"Invalid action '{action}'")
    message = shop.messages.get(line.get("id") or "")
    if message is None:
        raise FnacRefusal(200, f"Message '{line.get('id')}' not found", code="ERR_004")
    if action != "reply":
        if action in ("create", "confirm_shop_delivery"):
            raise FnacRefusal(200, f"The sandbox does not support action '{action}'")
        shop.set_state(message, action)
        return
    if message.from_type == SELLER:
        raise FnacRefusal(200, "A shop cannot reply to its own message")
    to = value(line, "message_to")
    subject = value(line, "message_subject")
    message_type = value(line, "message_type")
    description = first(line, "message_description")
    text = description.text if description is not None and description.text else ""
    if to not in RECIPIENTS:
        raise FnacRefusal(200, f"Invalid value '{to}' for message_to", code="ERR_005")
    if subject not in SUBJECTS:
        raise FnacRefusal(200, f"Invalid value '{subject}' for message_subject")
    if message_type not in (ORDER, OFFER):
        raise FnacRefusal(200, f"Invalid value '{message_type}' for message_type")
    if not text.strip():
        raise FnacRefusal(200, "message_description cannot be empty")
    shop.reply(message, to=to, subject=subject, message_type=message_type, body=text)


# --- message files --------------------------------------------------------------------


@router.get("/files/{file_id}")
async def message_file(request: Request, instance: str, file_id: str) -> Response:
    try:
        shop = sandbox_of(request).instance(instance)
        await suffer(shop.faults.take("message_file"))
    except FnacRefusal as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.http_status == 429 else {}
        return Response(exc.message.encode(), exc.http_status, headers=headers)
    stored = shop.files.get(file_id)
    if stored is None:
        return Response(b"Not found", 404, media_type="text/plain")
    return Response(stored.content, media_type=stored.content_type)
