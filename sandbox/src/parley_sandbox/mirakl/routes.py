"""The Mirakl shop messaging API, served under ``/mirakl/{instance}``.

``/mirakl/carrefour/api/inbox/threads`` answers like
``https://<carrefour's instance>/api/inbox/threads`` would, so a client only changes
its base URL between the sandbox and production. Paths, parameters, fields and
status codes follow the public documentation (see
:mod:`parley_connectors.mirakl.client` for the list and the assumptions).

Query parameters are read by hand rather than declared to FastAPI: Mirakl answers
bad input with its own 400 body, not FastAPI's 422, and the sandbox must too.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from parley_sandbox.faults import Fault, FaultKind
from parley_sandbox.mirakl import pagination, wire
from parley_sandbox.mirakl.store import (
    CUSTOMER,
    MAX_ORDER_DOCUMENTS,
    PARTY_TYPES,
    SHOP,
    MiraklInstance,
    MiraklSandbox,
    Party,
    ReceivedReply,
    SandboxError,
    StoredThread,
    truncate_ms,
)

router = APIRouter(prefix="/mirakl/{instance}/api")

ENTITY_TYPES = frozenset({"MMP_ORDER", "MMP_OFFER", "MPS_ORDER", "MPS_SERVICE", "SELLER_OPERATOR"})
TOPIC_TYPES = frozenset({"FREE_TEXT", "REASON_CODE"})
DEFAULT_LIMIT = 50  # documented default for M11
MAX_LIMIT = 100
MAX_MESSAGE_BYTES = 30 * 1024 * 1024  # documented for OR43; assumed for M12 too
# OR74: the file types an order document may have (documented).
DOCUMENT_EXTENSIONS = frozenset(
    {".csv", ".doc", ".xls", ".ppt", ".pdf", ".odt", ".ods", ".odp", ".txt", ".rtf", ".png"}
    | {".jpg", ".gif"}
)
# Type codes are configured by each operator; the sandbox's operators know these.
DOCUMENT_TYPES = frozenset({"CUSTOMER_INVOICE"})


def sandbox_of(request: Request) -> MiraklSandbox:
    sandbox: MiraklSandbox = request.app.state.mirakl
    return sandbox


async def enter(request: Request, name: str, operation: str) -> tuple[MiraklInstance, Fault | None]:
    """Instance, authentication, ``shop_id``, then the fault this call must suffer.

    Authentication comes first so a refused key never consumes an armed fault.
    """
    instance = sandbox_of(request).instance(name)
    if request.headers.get("authorization") != instance.config.api_key:
        raise SandboxError(401, "Unauthorized: invalid or missing API key")
    shop_id = request.query_params.get("shop_id")
    if shop_id is not None:
        try:
            wanted = int(shop_id)
        except ValueError as exc:
            raise SandboxError(400, f"Invalid value '{shop_id}' for parameter shop_id") from exc
        if wanted != instance.config.shop_id:
            raise SandboxError(403, f"You do not have access to shop {wanted}")
    fault = instance.faults.take(operation)
    if fault is not None:
        await suffer(fault)
    return instance, fault


async def suffer(fault: Fault) -> None:
    """Faults that replace the answer raise; a slow one just waits."""
    if fault.kind is FaultKind.RATE_LIMIT:
        raise RateLimitedAnswer(fault.retry_after)
    if fault.kind is FaultKind.SERVER_ERROR:
        raise SandboxError(fault.status, "Internal server error, please retry later")
    if fault.kind is FaultKind.SLOW:
        await asyncio.sleep(fault.delay_seconds)


class RateLimitedAnswer(SandboxError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "Too many requests, please retry later")
        self.retry_after = retry_after


def error_response(exc: SandboxError) -> JSONResponse:
    headers = {}
    if isinstance(exc, RateLimitedAnswer):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(wire.error(exc.status, exc.message), exc.status, headers=headers)


def json_answer(payload: Any, fault: Fault | None, status: int = 200) -> Response:
    if fault is not None and fault.kind is FaultKind.GARBAGE:
        return Response(
            b'{"data": [{"id": "truncated', status_code=status, media_type="application/json"
        )
    return JSONResponse(payload, status)


def corrupt(thread_json: dict[str, Any]) -> dict[str, Any]:
    """A thread that still names itself but lost what every reader needs."""
    broken = dict(thread_json)
    broken.pop("date_created", None)
    broken.pop("date_updated", None)
    broken["messages"] = "unavailable"
    return broken


# --- M11 ------------------------------------------------------------------------------


@router.get("/inbox/threads")
async def list_threads(request: Request, instance: str) -> Response:
    found, fault = await enter(request, instance, "M11")
    params = request.query_params
    token = params.get("page_token")
    cursor = pagination.decode(instance, token) if token else None
    query = cursor.query if cursor else read_query(params)
    since = parse_date(query.updated_since, "updated_since") if query.updated_since else None
    threads = found.query(
        updated_since=since,
        entity_type=query.entity_type,
        entity_ids=frozenset(query.entity_ids),
    )
    page = pagination.paginate(threads, query, cursor)
    data = [
        wire.thread(t, with_messages=query.with_messages, message_cap=wire.M11_MAX_MESSAGES)
        for t in page.items
    ]
    if fault is not None and fault.kind is FaultKind.MALFORMED and data:
        data[0] = corrupt(data[0])
    body: dict[str, Any] = {"data": data}
    if page.next_cursor is not None:
        body["next_page_token"] = pagination.encode(instance, page.next_cursor)
    if page.previous_cursor is not None:
        body["previous_page_token"] = pagination.encode(instance, page.previous_cursor)
    return json_answer(body, fault)


def read_query(params: Any) -> pagination.ThreadQuery:
    entity_type = params.get("entity_type") or None
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        raise SandboxError(400, f"Invalid value '{entity_type}' for parameter entity_type")
    entity_ids = tuple(
        part.strip()
        for value in params.getlist("entity_id")
        for part in value.split(",")
        if part.strip()
    )
    if entity_ids and entity_type is None:
        raise SandboxError(400, "entity_type must be specified to filter on entity_id")
    since = params.get("updated_since")
    if since:
        parse_date(since, "updated_since")
    return pagination.ThreadQuery(
        updated_since=since or None,
        with_messages=parse_bool(params.get("with_messages"), "with_messages", default=False),
        entity_type=entity_type,
        entity_ids=entity_ids,
        descending=parse_sort(params.get("sort")),
        limit=parse_limit(params.get("limit")),
    )


def parse_date(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SandboxError(400, f"Invalid date '{value}' for parameter {name}") from exc
    return truncate_ms(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def parse_bool(value: str | None, name: str, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise SandboxError(400, f"Invalid value '{value}' for parameter {name}")
    return lowered == "true"


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError as exc:
        raise SandboxError(400, f"Invalid value '{value}' for parameter limit") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise SandboxError(400, f"Parameter limit must be between 1 and {MAX_LIMIT}")
    return limit


def parse_sort(value: str | None) -> bool:
    """``sort=date_updated,ASC|DESC``; newest first when absent (assumed default)."""
    if not value:
        return True
    criterion, _, direction = value.partition(",")
    if criterion != "date_updated" or direction.upper() not in ("", "ASC", "DESC"):
        raise SandboxError(400, f"Invalid value '{value}' for parameter sort")
    return direction.upper() != "ASC"


# --- M10 ------------------------------------------------------------------------------


@router.get("/inbox/threads/{thread_id}")
async def get_thread(request: Request, instance: str, thread_id: str) -> Response:
    found, fault = await enter(request, instance, "M10")
    payload = wire.thread(found.thread(thread_id), with_messages=True, message_cap=None)
    if fault is not None and fault.kind is FaultKind.MALFORMED:
        payload = corrupt(payload)
    return json_answer(payload, fault)


# --- M12 ------------------------------------------------------------------------------


@router.post("/inbox/threads/{thread_id}/message")
async def reply(request: Request, instance: str, thread_id: str) -> Response:
    found, fault = await enter(request, instance, "M12")
    thread = found.thread(thread_id)
    message_input, files = await read_reply_form(request)
    body = message_input.get("body")
    if not isinstance(body, str) or not body.strip():
        raise SandboxError(400, "message_input.body is required and cannot be empty")
    recipients = read_recipients(thread, message_input.get("to"))
    topic = read_topic(message_input.get("topic"))
    if sum(len(content) for _, _, content in files) > MAX_MESSAGE_BYTES:
        raise SandboxError(400, "A message cannot exceed 30 MB of attachments")
    message = found.post(thread, sender=found.shop, body=body, to=recipients, files=files)
    if topic is not None:
        thread.topic = topic
    shop_id = request.query_params.get("shop_id")
    found.replies.append(
        ReceivedReply(
            thread_id=thread.id,
            message_id=message.id,
            body=body,
            to=recipients,
            topic=topic,
            attachments=list(message.attachments),
            received_at=message.date_created,
            shop_id=int(shop_id) if shop_id else None,
        )
    )
    answer: dict[str, Any] = {"message_id": message.id, "thread_id": thread.id}
    if fault is not None and fault.kind is FaultKind.MALFORMED:
        answer = {"thread_id": thread.id}  # posted, but the answer lost its id
    if fault is not None and fault.kind is FaultKind.LOST_ANSWER:
        await asyncio.sleep(fault.delay_seconds)  # posted; the answer comes too late
    return json_answer(answer, fault, status=201)


async def read_reply_form(
    request: Request,
) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise SandboxError(400, "M12 expects a multipart/form-data body")
    try:
        form = await request.form(max_files=100, max_part_size=MAX_MESSAGE_BYTES)
    except Exception as exc:  # python-multipart raises several kinds
        raise SandboxError(400, f"Unreadable multipart body: {exc}") from exc
    try:
        raw_input = form.get("message_input")
        if raw_input is None:
            raise SandboxError(400, "message_input is required")
        if isinstance(raw_input, UploadFile):
            raw_text = (await raw_input.read()).decode("utf-8", errors="replace")
        else:
            raw_text = raw_input
        try:
            message_input = json.loads(raw_text)
        except json.JSONDecodeError as exc:
            raise SandboxError(400, "message_input is not valid JSON") from exc
        if not isinstance(message_input, dict):
            raise SandboxError(400, "message_input must be a JSON object")
        files: list[tuple[str, str, bytes]] = []
        for item in form.getlist("files"):
            if not isinstance(item, UploadFile):
                raise SandboxError(400, "files parts must be files")
            content = await item.read()
            files.append(
                (
                    item.filename or "attachment",
                    item.content_type or "application/octet-stream",
                    content,
                )
            )
        return message_input, files
    finally:
        await form.close()


def read_recipients(thread: StoredThread, raw: Any) -> list[Party]:
    if not isinstance(raw, list) or not raw:
        raise SandboxError(400, "message_input.to is required and cannot be empty")
    recipients: list[Party] = []
    for item in raw:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in PARTY_TYPES:
            raise SandboxError(400, f"Invalid recipient type '{kind}'")
        if kind == SHOP:
            raise SandboxError(400, "A shop cannot send a message to itself")
        party = thread.party(kind)
        if party is None:
            raise SandboxError(
                400, f"{kind} is not an authorized participant of thread '{thread.id}'"
            )
        wanted_id = item.get("id")
        if wanted_id is not None and kind == CUSTOMER and wanted_id != party.id:
            raise SandboxError(400, f"Unknown {kind} '{wanted_id}' for thread '{thread.id}'")
        if party not in recipients:
            recipients.append(party)
    return recipients


def read_topic(raw: Any) -> dict[str, str] | None:
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in TOPIC_TYPES:
        raise SandboxError(400, "message_input.topic.type must be FREE_TEXT or REASON_CODE")
    value = raw.get("value")
    if not isinstance(value, str) or not value.strip():
        raise SandboxError(400, "message_input.topic.value cannot be empty")
    return {"type": raw["type"], "value": value}


# --- M13 ------------------------------------------------------------------------------


@router.get("/inbox/threads/{attachment_id}/download")
async def download(request: Request, instance: str, attachment_id: str) -> Response:
    found, _ = await enter(request, instance, "M13")
    attachment = found.attachments.get(attachment_id)
    if attachment is None:
        raise SandboxError(404, f"Attachment with id '{attachment_id}' not found")
    return Response(
        attachment.content,
        media_type=attachment.content_type,
        headers={"Content-Disposition": content_disposition(attachment.name)},
    )


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# --- OR74 ------------------------------------------------------------------------------


@router.post("/orders/{order_id}/documents")
async def upload_order_documents(request: Request, instance: str, order_id: str) -> Response:
    """Files the request's documents on the order. A malformed request is refused as a
    whole (400, Mirakl's error body); a document Mirakl will not keep is reported in
    the 200 answer with its errors, and the others are kept."""
    found, fault = await enter(request, instance, "OR74")
    described, files = await read_documents_form(request)
    if not found.knows_order(order_id):
        raise SandboxError(404, f"Order with id '{order_id}' not found")
    names = [name for name, _ in described]
    if len(set(names)) != len(names):
        raise SandboxError(400, "order_documents file names must be distinct")
    by_name = {name: (content_type, content) for name, content_type, content in files}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise SandboxError(400, f"No file part named '{missing[0]}' in files")
    unused = sorted(set(by_name) - set(names))
    if unused:
        raise SandboxError(400, f"File '{unused[0]}' is not described in order_documents")
    held = len(found.order_documents.get(order_id, []))
    refused: list[tuple[str, str, list[tuple[str, str]]]] = []
    for name, type_code in described:
        errors: list[tuple[str, str]] = []
        suffix = name.lower().rpartition(".")[2]
        if "." not in name or f".{suffix}" not in DOCUMENT_EXTENSIONS:
            errors.append(("DOCUMENT_FORMAT_NOT_SUPPORTED", f"File type of '{name}' refused"))
        if type_code not in DOCUMENT_TYPES:
            errors.append(("DOCUMENT_TYPE_NOT_FOUND", f"Unknown document type '{type_code}'"))
        if held >= MAX_ORDER_DOCUMENTS:
            errors.append(
                ("MAX_DOCUMENTS_REACHED", f"An order holds at most {MAX_ORDER_DOCUMENTS} documents")
            )
        if errors:
            refused.append((name, type_code, errors))
            continue
        content_type, content = by_name[name]
        found.file_order_document(order_id, name, type_code, content_type, content)
        held += 1
    if fault is not None and fault.kind is FaultKind.LOST_ANSWER:
        await asyncio.sleep(fault.delay_seconds)  # kept; the answer comes too late
    return json_answer(wire.documents_upload(refused), fault)


async def read_documents_form(
    request: Request,
) -> tuple[list[tuple[str, str]], list[tuple[str, str, bytes]]]:
    """OR74's parts: ``order_documents`` (JSON ``{"order_documents": [{file_name,
    type_code}]}``) and at least one ``files`` part."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise SandboxError(400, "OR74 expects a multipart/form-data body")
    try:
        form = await request.form(max_files=MAX_ORDER_DOCUMENTS, max_part_size=MAX_MESSAGE_BYTES)
    except Exception as exc:  # python-multipart raises several kinds
        raise SandboxError(400, f"Unreadable multipart body: {exc}") from exc
    try:
        raw = form.get("order_documents")
        if raw is None:
            raise SandboxError(400, "order_documents is required")
        text = (
            (await raw.read()).decode("utf-8", errors="replace")
            if isinstance(raw, UploadFile)
            else raw
        )
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SandboxError(400, "order_documents is not valid JSON") from exc
        items = parsed.get("order_documents") if isinstance(parsed, dict) else None
        if not isinstance(items, list) or not items:
            raise SandboxError(400, "order_documents must list at least one document")
        described: list[tuple[str, str]] = []
        for item in items:
            name = item.get("file_name") if isinstance(item, dict) else None
            code = item.get("type_code") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name or not isinstance(code, str) or not code:
                raise SandboxError(400, "each order document needs a file_name and a type_code")
            described.append((name, code))
        files: list[tuple[str, str, bytes]] = []
        for part in form.getlist("files"):
            if not isinstance(part, UploadFile):
                raise SandboxError(400, "files parts must be files")
            files.append(
                (
                    part.filename or "",
                    part.content_type or "application/octet-stream",
                    await part.read(),
                )
            )
        if not files:
            raise SandboxError(400, "files is required")
        return described, files
    finally:
        await form.close()


# --- OR72 ------------------------------------------------------------------------------


@router.get("/orders/documents")
async def list_order_documents(request: Request, instance: str) -> Response:
    found, fault = await enter(request, instance, "OR72")
    order_ids = [
        part.strip()
        for value in request.query_params.getlist("order_ids")
        for part in value.split(",")
        if part.strip()
    ]
    if not order_ids:
        raise SandboxError(400, "order_ids is required")
    documents = [
        wire.order_document(d)
        for order_id in order_ids
        for d in found.order_documents.get(order_id, [])
    ]
    return json_answer({"order_documents": documents, "total_count": len(documents)}, fault)
