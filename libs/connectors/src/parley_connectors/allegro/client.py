"""Async client for Allegro's Message Center and post-purchase issues (discussions).

One client talks to Allegro for one seller (one OAuth grant); ingest uses the read
side, the responder the write side.

What Allegro's REST API reference documents and this client relies on
(developer.allegro.pl/documentation, tags "Message Center" and "Post Purchase
Issues"; tutorials "Centrum wiadomości" and "Dyskusje i reklamacje"):

Message Center (media type ``application/vnd.allegro.public.v1+json`` for ``Accept``
and ``Content-Type``):

- ``GET /messaging/threads``: threads "sorted by last message date, starting from
  newest"; ``limit`` 1..20 (default 20), ``offset`` 0..15 000 000; answer
  ``{"threads": [{id, read, lastMessageDateTime, interlocutor {login, avatarUrl}}],
  "offset", "limit"}``. There is no "changed since" filter.
- ``GET /messaging/threads/{threadId}``: one thread (same shape).
- ``GET /messaging/threads/{threadId}/messages``: ``limit`` 1..20, ``offset``
  0..15 000, ``before`` / ``after`` (message creation date, exclusive; ``before``
  cannot be combined with ``offset``); answer ``{"messages": [...], "offset",
  "limit"}``. A message has ``id, status, type, createdAt, thread {id}, author
  {login, isInterlocutor}, text, subject, relatesTo {offer {id}, order {id}},
  hasAdditionalAttachments, attachments [{fileName, mimeType, url, status}]``.
- ``POST /messaging/threads/{threadId}/messages``: ``{"text" (required, at most 2000
  characters), "attachments": [{"id"}]}``; 201 with the message. Rate limited to one
  request per second per user.
- ``POST /messaging/message-attachments``: ``{"filename", "size"}`` (at most
  5 242 880 bytes) → 201 ``{"id"}``; then ``PUT /messaging/message-attachments/{id}``
  with the bytes as ``image/png|gif|bmp|tiff|jpeg`` or ``application/pdf`` → 200
  ``{"id"}``; ``GET /messaging/message-attachments/{id}`` downloads (``Content-Type``,
  ``Content-Disposition``; attachments of the last 6 months).
- ``PUT /messaging/threads/{threadId}/read`` with ``{"read": true|false}``.

Post-purchase issues (disputes and claims; media type
``application/vnd.allegro.beta.v1+json``, the reference's own for these resources; they
replace the older ``/sale/disputes`` API):

- ``GET /sale/issues``: "ordered by descending opened date"; ``limit`` 1..100
  (default 10), ``offset``, ``status`` (repeatable), ``checkoutForm.id``; answer
  ``{"issues": [...]}``. An issue has ``id, type (DISPUTE|CLAIM), referenceNumber,
  openedDate, subject, buyer {id, login}, checkoutForm {id, createdAt}, currentState
  {status, chatActive …}, chat {lastMessage {status, createdAt}, messagesCount,
  initialMessage}, offer {id}, product {id}, reason, right, attachments``. No
  "changed since" filter either.
- ``GET /sale/issues/{issueId}`` and ``GET /sale/issues/{issueId}/chat`` (``limit``
  1..100, default 10, ``offset``; answer ``{"chat": [{id, text, attachments
  [{fileName, url}], author {login, role}, createdAt}]}``; ``login`` is absent for
  the ADMIN, SYSTEM and FULFILLMENT roles).
- ``POST /sale/issues/{issueId}/message``: ``{"text", "attachments": [{"id"}], "type"}``,
  at least one of text and attachments; 201 with the message; 409 when the issue's
  state forbids new messages. ``GET /sale/issues/attachments/{id}`` downloads.

Errors: ``{"errors": [{"code", "message", "details", "path", "userMessage"}]}``; 401
answers ``{"error", "error_description"}``.

Assumptions where the reference is silent:

- The order of messages within a thread and of a chat is not relied upon: callers
  get them sorted by ``createdAt`` (then id). Offset pages can shift while new
  messages arrive, so items are de-duplicated by id.
- A 429 without a usable ``Retry-After`` is read as 60 seconds. 403 (a scope the
  grant lacks) counts as refused credentials; other 4xx are :class:`BadRequest`
  carrying Allegro's ``userMessage``.
- An attachment's id is the last path segment of its ``url``.

On a 401 the client renews the access token once (see :mod:`.auth`) and repeats the
call; a second 401 is :class:`AuthenticationFailed`. Nothing else is retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

import httpx

from parley_connectors.allegro.auth import (
    AllegroAuth,
    ClientCredentials,
    TokenStore,
    default_auth_url,
)
from parley_connectors.allegro.models import (
    AllegroIssue,
    AllegroMessage,
    AllegroPayloadError,
    AllegroThread,
    Channel,
    DownloadedFile,
    IssueMessage,
    OutgoingFile,
    parse_issue,
    parse_issue_message,
    parse_message,
    parse_thread,
    thread_key,
)
from parley_connectors.errors import BadRequest
from parley_connectors.http import (
    DEFAULT_TIMEOUT,
    MarketplaceHttpClient,
    body_or_reason,
    clip,
    downloaded_file,
    first_text,
    json_or_none,
    path_segment,
    raise_for_status,
    read_json,
)
from parley_connectors.payloads import format_iso_millis

log = logging.getLogger(__name__)

PUBLIC_V1 = "application/vnd.allegro.public.v1+json"
BETA_V1 = "application/vnd.allegro.beta.v1+json"
MAX_THREADS_PAGE = 20
MAX_MESSAGES_PAGE = 20
MAX_MESSAGES_OFFSET = 15_000
MAX_ISSUES_PAGE = 100
MAX_CHAT_PAGE = 100
MAX_TEXT_LENGTH = 2000
MAX_ATTACHMENT_BYTES = 5_242_880
ATTACHMENT_TYPES = frozenset(
    {"image/png", "image/gif", "image/bmp", "image/tiff", "image/jpeg", "application/pdf"}
)

# ISO 8601 UTC with milliseconds and ``Z``, as Allegro writes dates.
format_datetime = format_iso_millis


class AllegroClient(MarketplaceHttpClient):
    """Allegro's conversation APIs for one seller.

    ``api_url`` is ``https://api.allegro.pl`` (``https://api.allegro.pl.allegrosandbox.pl``
    for Allegro's own sandbox, or Parley's sandbox ``http://127.0.0.1:8900/allegro``);
    ``auth_url`` defaults to the matching token host. ``http`` and ``timeout``: see
    :class:`MarketplaceHttpClient` (the token calls share the same pool).
    """

    marketplace = "Allegro"

    def __init__(
        self,
        api_url: str,
        client: ClientCredentials,
        tokens: TokenStore,
        *,
        auth_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._api = api_url.rstrip("/")
        super().__init__(http, timeout=timeout)
        self.auth = AllegroAuth(
            auth_url or default_auth_url(self._api), client, tokens, self._http, timeout=timeout
        )

    def __repr__(self) -> str:  # never shows a token
        return f"AllegroClient(api={self._api!r})"

    # --- Message Center: threads ---------------------------------------------------------

    async def threads_page(self, offset: int = 0, limit: int = MAX_THREADS_PAGE) -> list[Any]:
        """One page of ``GET /messaging/threads``, as raw JSON objects."""
        _check_limit(limit, MAX_THREADS_PAGE)
        page = await self._json(
            "GET",
            "/messaging/threads",
            "listThreads",
            PUBLIC_V1,
            params={"offset": str(offset), "limit": str(limit)},
        )
        return _items(page, "threads", "listThreads")

    async def threads_since(
        self, since: datetime | None, page_size: int = MAX_THREADS_PAGE
    ) -> AsyncIterator[AllegroThread | AllegroPayloadError]:
        """Threads whose last message is at or after ``since``, newest first.

        Allegro lists threads newest first and has no date filter, so paging stops at
        the first thread older than ``since``. A malformed thread is yielded as its
        error (it cannot be placed in time, so paging goes on).
        """
        seen: set[str] = set()
        offset = 0
        while True:
            items = await self.threads_page(offset, page_size)
            for raw in items:
                try:
                    thread = parse_thread(raw)
                except AllegroPayloadError as exc:
                    yield exc
                    continue
                if thread.id in seen:
                    continue  # a thread that moved up while we paged
                seen.add(thread.id)
                last = thread.last_message_date_time
                if last is None:
                    continue  # no message at all: nothing to sync
                if since is not None and last < since:
                    return
                yield thread
            if len(items) < page_size:
                return
            offset += len(items)

    async def get_thread(self, thread_id: str) -> AllegroThread:
        payload = await self._json(
            "GET", f"/messaging/threads/{path_segment(thread_id)}", "getThread", PUBLIC_V1
        )
        thread = parse_thread(payload)
        _same(thread.id, thread_id, payload, Channel.MESSAGE_CENTER)
        return thread

    async def mark_read(self, thread_id: str, read: bool = True) -> AllegroThread:
        payload = await self._json(
            "PUT",
            f"/messaging/threads/{path_segment(thread_id)}/read",
            "changeReadFlag",
            PUBLIC_V1,
            body={"read": read},
        )
        return parse_thread(payload)

    # --- Message Center: messages --------------------------------------------------------

    async def messages(
        self,
        thread_id: str,
        *,
        after: datetime | None = None,
        page_size: int = MAX_MESSAGES_PAGE,
    ) -> tuple[list[AllegroMessage], list[dict[str, Any]]]:
        """Every message of a thread (created after ``after`` if given), oldest first.

        Returns the models and the raw JSON objects. A malformed message raises
        :class:`AllegroPayloadError` naming the thread.
        """
        _check_limit(page_size, MAX_MESSAGES_PAGE)
        key = thread_key(Channel.MESSAGE_CENTER, thread_id)
        found: dict[str, tuple[AllegroMessage, dict[str, Any]]] = {}
        offset = 0
        while offset <= MAX_MESSAGES_OFFSET:
            params = {"offset": str(offset), "limit": str(page_size)}
            if after is not None:
                params["after"] = format_datetime(after)
            page = await self._json(
                "GET",
                f"/messaging/threads/{path_segment(thread_id)}/messages",
                "listMessages",
                PUBLIC_V1,
                params=params,
                thread=key,
            )
            items = _items(page, "messages", "listMessages", thread=key)
            for raw in items:
                message = parse_message(raw, key)
                found.setdefault(message.id, (message, raw))
            if len(items) < page_size:
                break
            offset += len(items)
        else:
            log.warning("allegro thread longer than the API can page", extra={"thread": key})
        ordered = sorted(found.values(), key=lambda pair: (pair[0].created_at, pair[0].id))
        return [m for m, _ in ordered], [raw for _, raw in ordered]

    async def send_message(
        self, thread_id: str, text: str, attachment_ids: Sequence[str] = ()
    ) -> AllegroMessage:
        """Writes in an existing thread; attachments must be declared and uploaded first."""
        if len(text) > MAX_TEXT_LENGTH:
            raise BadRequest(f"Allegro accepts at most {MAX_TEXT_LENGTH} characters")
        body: dict[str, Any] = {"text": text}
        if attachment_ids:
            body["attachments"] = [{"id": a} for a in attachment_ids]
        key = thread_key(Channel.MESSAGE_CENTER, thread_id)
        payload = await self._json(
            "POST",
            f"/messaging/threads/{path_segment(thread_id)}/messages",
            "newMessageInThread",
            PUBLIC_V1,
            body=body,
            thread=key,
        )
        return parse_message(payload, key)

    async def send_message_with_files(
        self, thread_id: str, text: str, files: Iterable[OutgoingFile]
    ) -> AllegroMessage:
        """Declares and uploads each file, then sends the message carrying them."""
        ids = [await self.upload(file) for file in files]
        return await self.send_message(thread_id, text, ids)

    async def upload(self, file: OutgoingFile) -> str:
        """Declaration, then upload: the attachment id to send with a message."""
        content_type = file.content_type.split(";")[0].strip().lower()
        if content_type not in ATTACHMENT_TYPES:
            raise BadRequest(f"Allegro does not accept {content_type} attachments")
        if len(file.content) > MAX_ATTACHMENT_BYTES:
            raise BadRequest(f"Allegro accepts attachments up to {MAX_ATTACHMENT_BYTES} bytes")
        declared = await self._json(
            "POST",
            "/messaging/message-attachments",
            "newAttachmentDeclaration",
            PUBLIC_V1,
            body={"filename": file.name, "size": len(file.content)},
        )
        attachment_id = _id_field(declared, "newAttachmentDeclaration")
        uploaded = await self._json(
            "PUT",
            f"/messaging/message-attachments/{path_segment(attachment_id)}",
            "uploadAttachment",
            PUBLIC_V1,
            content=file.content,
            content_type=content_type,
        )
        return _id_field(uploaded, "uploadAttachment")

    async def download(self, attachment_id: str) -> DownloadedFile:
        """A Message Center attachment's bytes, name and type."""
        return await self._download(
            f"/messaging/message-attachments/{path_segment(attachment_id)}",
            attachment_id,
            "downloadAttachment",
        )

    # --- post-purchase issues ------------------------------------------------------------

    async def issues_page(
        self,
        offset: int = 0,
        limit: int = MAX_ISSUES_PAGE,
        *,
        statuses: Sequence[str] = (),
        checkout_form_id: str | None = None,
    ) -> list[Any]:
        _check_limit(limit, MAX_ISSUES_PAGE)
        params: list[tuple[str, str]] = [("offset", str(offset)), ("limit", str(limit))]
        params.extend(("status", s) for s in statuses)
        if checkout_form_id:
            params.append(("checkoutForm.id", checkout_form_id))
        page = await self._json("GET", "/sale/issues", "getIssues", BETA_V1, params=params)
        return _items(page, "issues", "getIssues")

    async def issues(
        self,
        *,
        opened_since: datetime | None = None,
        page_size: int = MAX_ISSUES_PAGE,
        statuses: Sequence[str] = (),
    ) -> AsyncIterator[AllegroIssue | AllegroPayloadError]:
        """Issues opened at or after ``opened_since`` (all when None), newest opened first.

        The list is ordered by descending opening date, so paging stops at the first
        issue opened earlier. A malformed issue is yielded as its error.
        """
        seen: set[str] = set()
        offset = 0
        while True:
            items = await self.issues_page(offset, page_size, statuses=statuses)
            for raw in items:
                try:
                    issue = parse_issue(raw)
                except AllegroPayloadError as exc:
                    yield exc
                    continue
                if issue.id in seen:
                    continue
                seen.add(issue.id)
                if opened_since is not None and issue.opened_date < opened_since:
                    return
                yield issue
            if len(items) < page_size:
                return
            offset += len(items)

    async def get_issue(self, issue_id: str) -> AllegroIssue:
        payload = await self._json(
            "GET",
            f"/sale/issues/{path_segment(issue_id)}",
            "getIssue",
            BETA_V1,
            thread=thread_key(Channel.DISCUSSIONS, issue_id),
        )
        issue = parse_issue(payload)
        _same(issue.id, issue_id, payload, Channel.DISCUSSIONS)
        return issue

    async def chat(
        self, issue_id: str, page_size: int = MAX_CHAT_PAGE
    ) -> tuple[list[IssueMessage], list[dict[str, Any]]]:
        """Every message of an issue's chat, oldest first, with the raw JSON objects."""
        _check_limit(page_size, MAX_CHAT_PAGE)
        key = thread_key(Channel.DISCUSSIONS, issue_id)
        found: dict[str, tuple[IssueMessage, dict[str, Any]]] = {}
        offset = 0
        while True:
            page = await self._json(
                "GET",
                f"/sale/issues/{path_segment(issue_id)}/chat",
                "getChat",
                BETA_V1,
                params={"offset": str(offset), "limit": str(page_size)},
                thread=key,
            )
            items = _items(page, "chat", "getChat", thread=key)
            for raw in items:
                message = parse_issue_message(raw, issue_id)
                found.setdefault(message.id, (message, raw))
            if len(items) < page_size:
                break
            offset += len(items)
        ordered = sorted(found.values(), key=lambda pair: (pair[0].created_at, pair[0].id))
        return [m for m, _ in ordered], [raw for _, raw in ordered]

    async def send_issue_message(
        self,
        issue_id: str,
        text: str,
        attachment_ids: Sequence[str] = (),
        *,
        message_type: str | None = None,
    ) -> IssueMessage:
        """Posts in a dispute or claim; 409 (closed chat) surfaces as :class:`BadRequest`."""
        body: dict[str, Any] = {"text": text}
        if attachment_ids:
            body["attachments"] = [{"id": a} for a in attachment_ids]
        if message_type:
            body["type"] = message_type
        payload = await self._json(
            "POST",
            f"/sale/issues/{path_segment(issue_id)}/message",
            "addMessageToIssue",
            BETA_V1,
            body=body,
            thread=thread_key(Channel.DISCUSSIONS, issue_id),
        )
        return parse_issue_message(payload, issue_id)

    async def download_issue_attachment(self, attachment_id: str) -> DownloadedFile:
        return await self._download(
            f"/sale/issues/attachments/{path_segment(attachment_id)}",
            attachment_id,
            "getIssueAttachment",
        )

    # --- plumbing ------------------------------------------------------------------------

    async def _download(self, path: str, attachment_id: str, operation: str) -> DownloadedFile:
        response = await self._call("GET", path, operation, accept="*/*")
        return downloaded_file(response, attachment_id)

    async def _json(
        self,
        method: str,
        path: str,
        operation: str,
        media_type: str,
        *,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        thread: str | None = None,
    ) -> Any:
        response = await self._call(
            method,
            path,
            operation,
            accept=media_type,
            params=params,
            body=body,
            body_type=media_type,
            content=content,
            content_type=content_type,
        )
        return read_json(response, operation, AllegroPayloadError, thread_id=thread)

    async def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        accept: str,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
        body_type: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """One call with a valid token; on 401 the token is renewed and the call repeated."""
        token = await self.auth.access_token()
        response = await self._send(
            method, path, operation, token, accept, params, body, body_type, content, content_type
        )
        if response.status_code == 401:
            token = await self.auth.renew(rejected=token)
            response = await self._send(
                method,
                path,
                operation,
                token,
                accept,
                params,
                body,
                body_type,
                content,
                content_type,
            )
        raise_for_status(response, operation, _error_message)
        return response

    async def _send(
        self,
        method: str,
        path: str,
        operation: str,
        token: str,
        accept: str,
        params: dict[str, str] | list[tuple[str, str]] | None,
        body: Any,
        body_type: str | None,
        content: bytes | None,
        content_type: str | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        payload: bytes | None = content
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = body_type or PUBLIC_V1
        elif content is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
        return await self._request(
            method,
            f"{self._api}{path}",
            operation=operation,
            params=_query(params),
            headers=headers,
            content=payload,
        )


def _query(
    params: dict[str, str] | list[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    if params is None:
        return ()
    return tuple(params.items()) if isinstance(params, dict) else tuple(params)


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise ValueError(f"page size must be within 1..{maximum}, got {limit}")


def _items(page: Any, field: str, operation: str, *, thread: str | None = None) -> list[Any]:
    if not isinstance(page, dict) or not isinstance(page.get(field), list):
        raise AllegroPayloadError(
            f"{operation} answer has no {field!r} list", thread_id=thread, payload=page
        )
    items: list[Any] = page[field]
    return items


def _id_field(payload: Any, operation: str) -> str:
    value = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(value, str) or not value:
        raise AllegroPayloadError(f"{operation} answer has no id", payload=payload)
    return value


def _same(found: str, wanted: str, payload: Any, channel: Channel) -> None:
    if found != wanted:
        raise AllegroPayloadError(
            f"asked for {wanted}, Allegro answered {found}",
            thread_id=thread_key(channel, wanted),
            payload=payload,
        )


def _error_message(response: httpx.Response) -> str:
    """Allegro's explanation: the first error's userMessage (else message), or OAuth's."""
    payload = json_or_none(response)
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = first.get("userMessage") or first.get("message") or ""
            code = first.get("code")
            if isinstance(text, str) and text:
                prefix = f"[{code}] " if isinstance(code, str) and code else ""
                return clip(prefix + text)
        found = first_text(payload, ("error_description", "error"))
        if found:
            return found
    return body_or_reason(response)
