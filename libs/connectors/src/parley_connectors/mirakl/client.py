"""Async client for the Mirakl shop messaging API (M10, M11, M12, M13) and order
documents (OR72, OR74).

One client talks to one operator instance (Carrefour, Empik, Decathlon …) for one
shop API key; ingest uses the read side, the responder the write side.

What the public Mirakl documentation says, and this client relies on
(developer.mirakl.com, Marketplace Platform, seller/shop REST API, "Messages"):

- Auth: the shop API key is sent as is in the ``Authorization`` header (security
  scheme ``shop_api_key``, apiKey in header). Every call takes an optional
  ``shop_id`` query parameter for keys that reach several shops.
- M11 ``GET /api/inbox/threads``: filters ``entity_type``, ``entity_id``
  (comma-separated, needs ``entity_type`` or the answer is 400), ``updated_since``
  ("threads modified at or after this date"), ``with_messages`` (message details,
  at most the last 100 messages per thread), ``channel_codes``; seek pagination
  with ``limit`` (default 50) and ``page_token``; answer
  ``{"data": [...], "next_page_token", "previous_page_token"}``, a token being
  absent on the last (first) page.
- M10 ``GET /api/inbox/threads/{thread_id}``: one thread with its messages.
- M12 ``POST /api/inbox/threads/{thread_id}/message``: multipart/form-data with a
  ``message_input`` part (``body``, ``to`` [{``type`` OPERATOR|SHOP|CUSTOMER,
  ``id``}], optional ``topic``) and ``files`` parts; 201 ``{"message_id",
  "thread_id"}``. At most 1000 messages per thread and 50 attachments across the
  threads of one entity.
- M13 ``GET /api/inbox/threads/{attachment_id}/download``: the file's bytes.
- OR74 ``POST /api/orders/{order_id}/documents`` ("Orders" section, "Upload documents
  to associate to an order"): multipart/form-data with one ``files`` part per
  document and an ``order_documents`` part describing them
  (``{"order_documents": [{"file_name", "type_code"}]}``, JSON or XML); file names
  must be distinct; csv, doc, xls, ppt, pdf, odt, ods, odp, txt, rtf, png, jpg, gif
  only; at most 50 documents per order. The answer counts the documents refused
  (``errors_count``) and lists each with its ``errors`` (``order_documents``). A
  customer invoice has the type code ``CUSTOMER_INVOICE``.
- OR72 ``GET /api/orders/documents?order_ids=…``: the orders' documents
  (``order_documents``: ``id``, ``file_name``, ``file_size``, ``type``, ``order_id``,
  ``date_uploaded``).
- HTTP 429 comes with a ``Retry-After`` header in seconds.
- Integrations must accept new fields and new enumeration values.

Assumptions where the documentation is silent or unclear:

- When ``page_token`` is sent, Mirakl ignores the other filters (Mirakl's own PHP
  SDK says so for seek pagination), so follow-up pages send only the token, the
  limit and ``shop_id``. ``limit`` must be within 1..100 (the SDK's bounds).
- ``updated_since`` is sent as ISO 8601 UTC with milliseconds and a ``Z``.
- Error bodies are JSON ``{"status": <code>, "message": "<text>"}``; when the body is
  anything else its first characters are used as the message.
- M13 names the file in ``Content-Disposition``; without it the attachment id is
  used as the name. The order in which M11 lists threads is not relied upon.
- 403 (a shop the key cannot reach) is treated like 401: the credentials, not the
  request, are wrong. Other 4xx are :class:`BadRequest`.
- A 429 without a usable ``Retry-After`` is read as 60 seconds.

The client never retries (callers own retry policy) and never logs or repeats the
API key: it is only ever written into the request header.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import httpx

from parley_connectors.http import (
    DEFAULT_TIMEOUT,
    MarketplaceHttpClient,
    MultipartFiles,
    body_or_reason,
    downloaded_file,
    first_text,
    json_or_none,
    path_segment,
    raise_for_status,
    read_json,
)
from parley_connectors.mirakl.models import (
    DownloadedFile,
    MiraklDocumentsUploadResult,
    MiraklOrderDocument,
    MiraklPayloadError,
    MiraklRecipient,
    MiraklReplyResult,
    MiraklThread,
    OutgoingFile,
)
from parley_connectors.payloads import format_iso_millis

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
CUSTOMER_INVOICE = "CUSTOMER_INVOICE"  # OR74's type code of an invoice to the customer
MAX_ORDER_DOCUMENTS = 50  # documented for OR74: documents one order can hold
ORDER_DOCUMENT_EXTENSIONS = frozenset(
    [
        ".csv",
        ".doc",
        ".xls",
        ".ppt",
        ".pdf",
        ".odt",
        ".ods",
        ".odp",
        ".txt",
        ".rtf",
        ".png",
        ".jpg",
        ".gif",
    ]
)

# ``updated_since`` as Mirakl writes dates: ISO 8601 UTC, milliseconds, ``Z``.
format_datetime = format_iso_millis


class MiraklClient(MarketplaceHttpClient):
    """The messaging API of one Mirakl instance, for one shop API key.

    ``base_url`` is the instance's root (``https://marketplace.example.com`` or the
    sandbox's ``http://127.0.0.1:8900/mirakl/carrefour``); a trailing ``/api`` is
    accepted too. ``http`` and ``timeout``: see :class:`MarketplaceHttpClient`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        shop_id: int | None = None,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not api_key:
            raise ValueError("a Mirakl shop API key is required")
        root = base_url.rstrip("/")
        self._api = root if root.endswith("/api") else f"{root}/api"
        self._api_key = api_key
        self._shop_id = shop_id
        super().__init__(http, timeout=timeout)

    def __repr__(self) -> str:  # never shows the key
        return f"MiraklClient(api={self._api!r}, shop_id={self._shop_id!r})"

    # --- M11 -----------------------------------------------------------------------

    async def list_threads(
        self,
        updated_since: datetime | None,
        with_messages: bool = True,
        page_size: int = 50,
        *,
        entity_type: str | None = None,
        entity_ids: Sequence[str] = (),
    ) -> AsyncIterator[MiraklThread]:
        """Every thread updated at or after ``updated_since``, across all pages.

        Strict: the first malformed thread raises :class:`MiraklPayloadError`. Use
        :meth:`list_thread_results` to dead-letter bad threads and keep going.
        """
        async for item in self.list_thread_results(
            updated_since,
            with_messages,
            page_size,
            entity_type=entity_type,
            entity_ids=entity_ids,
        ):
            if isinstance(item, MiraklPayloadError):
                raise item
            yield item

    async def list_thread_results(
        self,
        updated_since: datetime | None,
        with_messages: bool = True,
        page_size: int = 50,
        *,
        entity_type: str | None = None,
        entity_ids: Sequence[str] = (),
    ) -> AsyncIterator[MiraklThread | MiraklPayloadError]:
        """Like :meth:`list_threads`, but a malformed thread is *yielded* as its error.

        A page that cannot be read as a whole (not JSON, no ``data`` list, a bad
        token) still raises, since the pages after it cannot be reached.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}")
        if entity_ids and not entity_type:
            raise ValueError("entity_ids needs entity_type (Mirakl answers 400 otherwise)")
        params: dict[str, str] = {
            "with_messages": "true" if with_messages else "false",
            "limit": str(page_size),
        }
        if updated_since is not None:
            params["updated_since"] = format_datetime(updated_since)
        if entity_type:
            params["entity_type"] = entity_type
        if entity_ids:
            params["entity_id"] = ",".join(entity_ids)
        pages = 0
        while True:
            page = await self._get_json("/inbox/threads", params, operation="M11")
            pages += 1
            data, next_token = _read_page(page)
            for raw in data:
                try:
                    yield MiraklThread.parse(raw)
                except MiraklPayloadError as exc:
                    yield exc
            if not next_token:
                log.debug("mirakl M11 done", extra={"pages": pages, "api": self._api})
                return
            # Seek pagination: the token carries the filters; only the limit goes along.
            params = {"page_token": next_token, "limit": str(page_size)}

    # --- M10 -----------------------------------------------------------------------

    async def get_thread(self, thread_id: str) -> MiraklThread:
        """One thread with all its messages."""
        payload = await self._get_json(f"/inbox/threads/{path_segment(thread_id)}", {}, "M10")
        thread = MiraklThread.parse(payload)
        if thread.id != thread_id:
            raise MiraklPayloadError(
                f"asked for thread {thread_id}, Mirakl answered thread {thread.id}",
                thread_id=thread_id,
                payload=payload,
            )
        return thread

    # --- M12 -----------------------------------------------------------------------

    async def reply(
        self,
        thread_id: str,
        body: str,
        to: Sequence[MiraklRecipient],
        attachments: Sequence[OutgoingFile] = (),
    ) -> MiraklReplyResult:
        """Posts a message on the thread, with attachments sent natively."""
        message_input: dict[str, Any] = {
            "body": body,
            "to": [recipient.model_dump(mode="json", exclude_none=True) for recipient in to],
        }
        parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
            (
                "message_input",
                (None, json.dumps(message_input, ensure_ascii=False).encode(), "application/json"),
            )
        ]
        parts.extend(("files", (f.name, f.content, f.content_type)) for f in attachments)
        response = await self._send(
            "POST",
            f"/inbox/threads/{path_segment(thread_id)}/message",
            {},
            operation="M12",
            files=parts,
        )
        payload = read_json(response, "M12", MiraklPayloadError)
        try:
            return MiraklReplyResult.model_validate(payload)
        except ValueError as exc:
            raise MiraklPayloadError(
                f"M12 answer has no message id: {exc}", thread_id=thread_id, payload=payload
            ) from exc

    # --- M13 -----------------------------------------------------------------------

    async def download_attachment(self, attachment_id: str) -> DownloadedFile:
        """An attachment's bytes, its file name and content type."""
        response = await self._send(
            "GET", f"/inbox/threads/{path_segment(attachment_id)}/download", {}, operation="M13"
        )
        return downloaded_file(response, attachment_id)

    # --- OR74 ----------------------------------------------------------------------

    async def upload_order_documents(
        self, order_id: str, documents: Sequence[tuple[OutgoingFile, str]]
    ) -> MiraklDocumentsUploadResult:
        """Files documents on the order: each ``(file, type_code)``. Mirakl answers 200
        even when it refuses some: read :meth:`MiraklDocumentsUploadResult.errors_of`."""
        if not documents:
            raise ValueError("OR74 needs at least one document")
        names = [f.name for f, _ in documents]
        if len(set(names)) != len(names):
            raise ValueError("OR74 document file names must be distinct")
        if len(documents) > MAX_ORDER_DOCUMENTS:
            raise ValueError(f"an order holds at most {MAX_ORDER_DOCUMENTS} documents")
        for name in names:
            if PurePosixPath(name.lower()).suffix not in ORDER_DOCUMENT_EXTENSIONS:
                raise ValueError(f"Mirakl does not take {name!r} as an order document")
        described = {
            "order_documents": [{"file_name": f.name, "type_code": code} for f, code in documents]
        }
        parts: MultipartFiles = [
            ("files", (f.name, f.content, f.content_type or "application/octet-stream"))
            for f, _ in documents
        ]
        parts.append(
            (
                "order_documents",
                (None, json.dumps(described, ensure_ascii=False).encode(), "application/json"),
            )
        )
        response = await self._send(
            "POST", f"/orders/{path_segment(order_id)}/documents", {}, operation="OR74", files=parts
        )
        payload = read_json(response, "OR74", MiraklPayloadError)
        try:
            return MiraklDocumentsUploadResult.model_validate(payload)
        except ValueError as exc:
            raise MiraklPayloadError(f"OR74 answer unreadable: {exc}", payload=payload) from exc

    # --- OR72 ----------------------------------------------------------------------

    async def list_order_documents(self, order_ids: Sequence[str]) -> list[MiraklOrderDocument]:
        """The documents of the orders (OR72)."""
        if not order_ids:
            raise ValueError("OR72 needs at least one order id")
        payload = await self._get_json(
            "/orders/documents", {"order_ids": ",".join(order_ids)}, "OR72"
        )
        raw = payload.get("order_documents") if isinstance(payload, dict) else None
        if not isinstance(raw, list):
            raise MiraklPayloadError("OR72 answer has no 'order_documents' list", payload=payload)
        try:
            return [MiraklOrderDocument.model_validate(item) for item in raw]
        except ValueError as exc:
            raise MiraklPayloadError(f"OR72 answer unreadable: {exc}", payload=payload) from exc

    # --- plumbing ------------------------------------------------------------------

    async def _get_json(self, path: str, params: dict[str, str], operation: str) -> Any:
        response = await self._send("GET", path, params, operation=operation)
        return read_json(response, operation, MiraklPayloadError)

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        *,
        operation: str,
        files: MultipartFiles | None = None,
    ) -> httpx.Response:
        query = dict(params)
        if self._shop_id is not None:
            query["shop_id"] = str(self._shop_id)
        headers = {"Authorization": self._api_key, "Accept": "application/json"}
        response = await self._request(
            method,
            f"{self._api}{path}",
            operation=operation,
            params=query,
            headers=headers,
            files=files,
        )
        raise_for_status(response, operation, _error_message)
        return response


def _read_page(page: Any) -> tuple[list[Any], str | None]:
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise MiraklPayloadError("M11 answer has no 'data' list", payload=page)
    token = page.get("next_page_token")
    if token is not None and not isinstance(token, str):
        raise MiraklPayloadError("M11 'next_page_token' is not a string", payload=page)
    return page["data"], token or None


def _error_message(response: httpx.Response) -> str:
    """Mirakl's explanation from a ``{"status", "message"}`` body, else the raw text."""
    payload = json_or_none(response)
    if isinstance(payload, dict):
        found = first_text(payload, ("message", "error_description", "error"))
        if found:
            return found
    return body_or_reason(response)
