"""Allegro's Message Center and post-purchase issues API, served under ``/allegro``.

``/allegro/messaging/threads`` answers like ``https://api.allegro.pl/messaging/threads``
would, so a client changes only its base URL between the sandbox and production.
Paths, parameters, fields, media types and status codes follow the REST API reference
(see :mod:`parley_connectors.allegro.client` for the list). Where the reference is
silent the sandbox picks one documented-compatible behaviour and clients must not
depend on it: messages of a thread are listed newest first, an issue's chat oldest
first.

Every call needs a bearer token of a sandbox account (issued by ``/allegro/auth/oauth/
token`` or the control API) and the right ``Accept`` media type; the JSON bodies sent
must carry it as ``Content-Type``. Query parameters are read by hand so bad input gets
Allegro's own 422 body, not FastAPI's.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from parley_sandbox.allegro import wire
from parley_sandbox.allegro.store import (
    ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    MAX_TEXT_LENGTH,
    SELLER,
    AllegroAccount,
    AllegroError,
    AllegroSandbox,
    RateLimitedAnswer,
    ReceivedReply,
    StoredFile,
)
from parley_sandbox.faults import Fault, FaultKind
from parley_sandbox.mirakl.store import truncate_ms

PUBLIC_V1 = "application/vnd.allegro.public.v1+json"
BETA_V1 = "application/vnd.allegro.beta.v1+json"
PREFIX = "/allegro"

router = APIRouter(prefix=PREFIX)


def sandbox_of(request: Request) -> AllegroSandbox:
    sandbox: AllegroSandbox = request.app.state.allegro
    return sandbox


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def enter(
    request: Request, operation: str, media_type: str | None
) -> tuple[AllegroAccount, Fault | None]:
    """Token, then ``Accept``, then the fault this call must suffer.

    Authentication comes first so a refused token never consumes an armed fault.
    """
    account = sandbox_of(request).account_of_access_token(request.headers.get("authorization"))
    if media_type is not None and media_type not in request.headers.get("accept", ""):
        raise AllegroError(406, f"Use Accept: {media_type}", code="NotAcceptableException")
    fault = account.faults.take(operation)
    if fault is not None:
        await suffer(fault)
    return account, fault


async def suffer(fault: Fault) -> None:
    """Faults that replace the answer raise; a slow one just waits."""
    if fault.kind is FaultKind.RATE_LIMIT:
        raise RateLimitedAnswer(fault.retry_after)
    if fault.kind is FaultKind.SERVER_ERROR:
        raise AllegroError(fault.status, "Internal server error, please retry later")
    if fault.kind is FaultKind.SLOW:
        await asyncio.sleep(fault.delay_seconds)


def answer(payload: Any, media_type: str, fault: Fault | None, status: int = 200) -> Response:
    if fault is not None and fault.kind is FaultKind.GARBAGE:
        return Response(b"<html>502 Bad Gateway</html", status_code=status, media_type=media_type)
    return JSONResponse(payload, status, media_type=media_type)


def malformed(fault: Fault | None) -> bool:
    return fault is not None and fault.kind is FaultKind.MALFORMED


async def read_json(request: Request, media_type: str) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith(media_type):
        raise AllegroError(415, f"Use Content-Type: {media_type}")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AllegroError(400, "The request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise AllegroError(422, "The request body must be a JSON object")
    return body


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise AllegroError(422, f"Invalid value '{raw}' of {name}", path=name) from exc
    if not low <= value <= high:
        raise AllegroError(422, f"{name} must be between {low} and {high}", path=name)
    return value


def date_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise AllegroError(422, f"Invalid date '{raw}' of {name}", path=name) from exc
    return truncate_ms(value if value.tzinfo else value.replace(tzinfo=UTC))


# --- Message Center ----------------------------------------------------------------------


@router.get("/messaging/threads")
async def list_threads(request: Request) -> Response:
    account, fault = await enter(request, "listThreads", PUBLIC_V1)
    limit = int_param(request, "limit", 20, 1, 20)
    offset = int_param(request, "offset", 0, 0, 15_000_000)
    page = account.threads_newest_first()[offset : offset + limit]
    threads = [wire.thread(t) for t in page]
    if malformed(fault) and threads:
        threads[0] = {"id": threads[0]["id"], "lastMessageDateTime": "yesterday"}
    return answer({"threads": threads, "offset": offset, "limit": limit}, PUBLIC_V1, fault)


@router.get("/messaging/threads/{thread_id}")
async def get_thread(request: Request, thread_id: str) -> Response:
    account, fault = await enter(request, "getThread", PUBLIC_V1)
    payload = wire.thread(account.thread(thread_id))
    if malformed(fault):
        payload.pop("read")
    return answer(payload, PUBLIC_V1, fault)


@router.put("/messaging/threads/{thread_id}/read")
async def mark_read(request: Request, thread_id: str) -> Response:
    account, fault = await enter(request, "changeReadFlag", PUBLIC_V1)
    thread = account.thread(thread_id)
    body = await read_json(request, PUBLIC_V1)
    if not isinstance(body.get("read"), bool):
        raise AllegroError(422, "The read flag is missing", path="read")
    thread.read = body["read"]
    return answer(wire.thread(thread), PUBLIC_V1, fault)


@router.get("/messaging/threads/{thread_id}/messages")
async def list_messages(request: Request, thread_id: str) -> Response:
    account, fault = await enter(request, "listMessages", PUBLIC_V1)
    thread = account.thread(thread_id)
    limit = int_param(request, "limit", 20, 1, 20)
    offset = int_param(request, "offset", 0, 0, 15_000)
    before, after = date_param(request, "before"), date_param(request, "after")
    if before is not None and "offset" in request.query_params:
        raise AllegroError(422, "before cannot be used with offset", path="before")
    found = [
        m
        for m in thread.messages
        if (after is None or m.created_at > after) and (before is None or m.created_at < before)
    ]
    found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
    base = base_url(request)
    messages = [wire.message(m, base) for m in found[offset : offset + limit]]
    if malformed(fault) and messages:
        messages[0].pop("createdAt")
        messages[0]["author"] = "unknown"
    return answer({"messages": messages, "offset": offset, "limit": limit}, PUBLIC_V1, fault)


@router.post("/messaging/threads/{thread_id}/messages")
async def new_message(request: Request, thread_id: str) -> Response:
    account, fault = await enter(request, "newMessageInThread", PUBLIC_V1)
    thread = account.thread(thread_id)
    body = await read_json(request, PUBLIC_V1)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise AllegroError(422, "Message text is required", path="text")
    if len(text) > MAX_TEXT_LENGTH:
        raise AllegroError(422, f"Text cannot exceed {MAX_TEXT_LENGTH} characters", path="text")
    files = uploaded(account, body.get("attachments"))
    message = account.write(thread, text=text, from_buyer=False, files=files)
    thread.read = True
    account.replies.append(
        ReceivedReply("message_center", thread.id, message.id, text, files, message.created_at)
    )
    payload = wire.message(message, base_url(request))
    if malformed(fault):
        payload.pop("id")
    return answer(payload, PUBLIC_V1, fault, 201)


def uploaded(account: AllegroAccount, raw: Any) -> list[StoredFile]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AllegroError(422, "attachments must be a list", path="attachments")
    files = []
    for item in raw:
        attachment_id = item.get("id") if isinstance(item, dict) else None
        declaration = account.declarations.get(str(attachment_id))
        if declaration is None or declaration.file is None:
            raise AllegroError(
                422, f"Attachment {attachment_id} was not uploaded", path="attachments"
            )
        files.append(declaration.file)
    return files


@router.post("/messaging/message-attachments")
async def declare_attachment(request: Request) -> Response:
    account, fault = await enter(request, "newAttachmentDeclaration", PUBLIC_V1)
    body = await read_json(request, PUBLIC_V1)
    filename, size = body.get("filename"), body.get("size")
    if not isinstance(filename, str) or not filename.strip():
        raise AllegroError(422, "filename is required", path="filename")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_ATTACHMENT_BYTES:
        raise AllegroError(422, f"size must be within 0..{MAX_ATTACHMENT_BYTES}", path="size")
    extensions = tuple(e for group in ATTACHMENT_TYPES.values() for e in group)
    if not filename.lower().endswith(extensions):
        raise AllegroError(415, f"Unsupported attachment type: {filename}")
    declaration = account.declare(filename, size)
    payload: dict[str, Any] = {} if malformed(fault) else {"id": declaration.id}
    return answer(payload, PUBLIC_V1, fault, 201)


@router.put("/messaging/message-attachments/{attachment_id}")
async def upload_attachment(request: Request, attachment_id: str) -> Response:
    account, fault = await enter(request, "uploadAttachment", PUBLIC_V1)
    declaration = account.declarations.get(attachment_id)
    if declaration is None:
        raise AllegroError(404, f"Attachment declaration {attachment_id} not found")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ATTACHMENT_TYPES:
        raise AllegroError(415, f"Unsupported mime type {content_type or '(none)'}")
    content = await request.body()
    if len(content) > min(declaration.size, MAX_ATTACHMENT_BYTES):
        raise AllegroError(413, "Exceeded size limit")
    declaration.file = StoredFile(declaration.id, declaration.filename, content_type, content)
    payload: dict[str, Any] = {} if malformed(fault) else {"id": declaration.id}
    return answer(payload, PUBLIC_V1, fault)


@router.get("/messaging/message-attachments/{attachment_id}")
async def download_attachment(request: Request, attachment_id: str) -> Response:
    account, _ = await enter(request, "downloadAttachment", None)
    file = account.files.get(attachment_id)
    if file is None:
        raise AllegroError(404, f"Attachment {attachment_id} not found")
    return file_response(file)


def file_response(file: StoredFile) -> Response:
    return Response(
        file.content,
        media_type=file.content_type,
        headers={"Content-Disposition": content_disposition(file.name)},
    )


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# --- post-purchase issues ----------------------------------------------------------------


@router.get("/sale/issues")
async def list_issues(request: Request) -> Response:
    account, fault = await enter(request, "getIssues", BETA_V1)
    limit = int_param(request, "limit", 10, 1, 100)
    offset = int_param(request, "offset", 0, 0, 1_000_000)
    statuses = set(request.query_params.getlist("status"))
    order = request.query_params.get("checkoutForm.id")
    found = [
        i
        for i in account.issues_newest_opened_first()
        if (not statuses or i.status in statuses) and (not order or i.order_id == order)
    ]
    base = base_url(request)
    issues = [wire.issue(i, base) for i in found[offset : offset + limit]]
    if malformed(fault) and issues:
        issues[0]["openedDate"] = "soon"
        issues[0]["chat"] = "n/a"
    return answer({"issues": issues}, BETA_V1, fault)


@router.get("/sale/issues/attachments/{attachment_id}")
async def download_issue_attachment(request: Request, attachment_id: str) -> Response:
    account, _ = await enter(request, "getIssueAttachment", None)
    file = account.issue_files.get(attachment_id)
    if file is None:
        raise AllegroError(404, f"Attachment {attachment_id} not found")
    return file_response(file)


@router.get("/sale/issues/{issue_id}")
async def get_issue(request: Request, issue_id: str) -> Response:
    account, fault = await enter(request, "getIssue", BETA_V1)
    payload = wire.issue(account.issue(issue_id), base_url(request))
    if malformed(fault):
        payload.pop("openedDate")
    return answer(payload, BETA_V1, fault)


@router.get("/sale/issues/{issue_id}/chat")
async def get_chat(request: Request, issue_id: str) -> Response:
    account, fault = await enter(request, "getChat", BETA_V1)
    issue = account.issue(issue_id)
    limit = int_param(request, "limit", 10, 1, 100)
    offset = int_param(request, "offset", 0, 0, 1_000_000)
    ordered = sorted(issue.chat, key=lambda m: (m.created_at, m.id))
    base = base_url(request)
    chat = [wire.chat_message(m, base) for m in ordered[offset : offset + limit]]
    if malformed(fault) and chat:
        chat[0].pop("createdAt")
        chat[0].pop("author")
    return answer({"chat": chat}, BETA_V1, fault)


@router.post("/sale/issues/{issue_id}/message")
async def add_issue_message(request: Request, issue_id: str) -> Response:
    account, fault = await enter(request, "addMessageToIssue", BETA_V1)
    issue = account.issue(issue_id)
    body = await read_json(request, BETA_V1)
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise AllegroError(422, "text must be a string", path="text")
    files = []
    for item in body.get("attachments") or []:
        attachment_id = item.get("id") if isinstance(item, dict) else None
        file = account.issue_files.get(str(attachment_id))
        if file is None:
            raise AllegroError(422, f"Unknown attachment {attachment_id}", path="attachments")
        files.append(file)
    if not (text and text.strip()) and not files:
        raise AllegroError(422, "At least one of text and attachments is required")
    if not issue.chat_active:
        raise AllegroError(409, "The issue is in a state that forbids new messages")
    message = account.say(issue, text=text, role=SELLER, files=files)
    account.replies.append(
        ReceivedReply("discussions", issue.id, message.id, text, files, message.created_at)
    )
    payload = wire.chat_message(message, base_url(request))
    if malformed(fault):
        payload.pop("id")
    return answer(payload, BETA_V1, fault, 201)
