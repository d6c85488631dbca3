"""The invoicer over HTTP (parley_invoicer.api): the gateway's only way to invoices.

The invoicer owns its collections and its PDF bucket, so the gateway never reads or
writes them: it asks. Every call is bounded (connect, read, write and pool timeouts),
so a hung invoicer costs a request at most the configured seconds, then the API
answers 503 + Retry-After. The invoicer's own refusals (4xx problem+json) are kept
whole, so a 422 that names the missing fields reaches the client as it was said.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from parley_gateway.ports import InvoicerRefused, InvoicerUnavailable, IssuedDocument
from parley_platform.logging import get_logger

log = get_logger(__name__)

PDF = "application/pdf"


class HttpInvoicer:
    """The :class:`~parley_gateway.ports.Invoicer` port on the invoicer's HTTP API."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
            # Invoices hold names and addresses: never follow a redirect elsewhere.
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def get_settings(self, store_id: str) -> dict[str, Any] | None:
        response = await self._call("GET", f"/stores/{_segment(store_id)}/invoice-settings")
        if response.status_code == 404:
            return None
        _raise_for_problem(response)
        return _json_object(response)

    async def put_settings(self, store_id: str, settings: dict[str, Any]) -> dict[str, Any]:
        response = await self._call(
            "PUT", f"/stores/{_segment(store_id)}/invoice-settings", json=settings
        )
        _raise_for_problem(response)
        return _json_object(response)

    async def issue_invoice(self, order: dict[str, Any]) -> IssuedDocument:
        response = await self._call("POST", "/invoices", json={"order": order})
        return _issued(response)

    async def issue_credit_note(self, refund: dict[str, Any]) -> IssuedDocument:
        response = await self._call("POST", "/credit-notes", json={"refund": refund})
        return _issued(response)

    async def documents_of(self, discussion_id: str) -> list[dict[str, Any]]:
        response = await self._call("GET", "/invoices", params={"discussion_id": discussion_id})
        _raise_for_problem(response)
        documents = _json_object(response).get("documents")
        if not isinstance(documents, list):
            raise InvoicerUnavailable("the invoicer's listing has no documents")
        return [d for d in documents if isinstance(d, dict)]

    async def pdf(self, file_id: str) -> bytes:
        response = await self._call("GET", f"/invoice-files/{_segment(file_id)}")
        _raise_for_problem(response)
        return response.content

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            log.warning("invoicer timed out", method=method, error=type(exc).__name__)
            raise InvoicerUnavailable("the invoicer did not answer in time") from exc
        except httpx.HTTPError as exc:
            log.warning("invoicer unreachable", method=method, error=type(exc).__name__)
            raise InvoicerUnavailable("the invoicer is unreachable") from exc
        if response.status_code >= 500:
            log.warning("invoicer failed", method=method, status=response.status_code)
            raise InvoicerUnavailable(f"the invoicer answered {response.status_code}")
        return response


def _segment(value: str) -> str:
    """One path segment, whatever the value holds."""
    return quote(value, safe="")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise InvoicerUnavailable("the invoicer answered something that is not JSON") from exc
    if not isinstance(body, dict):
        raise InvoicerUnavailable("the invoicer answered JSON that is not an object")
    return body


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"status": response.status_code, "detail": response.reason_phrase}
    raise InvoicerRefused(response.status_code, problem)


def _issued(response: httpx.Response) -> IssuedDocument:
    _raise_for_problem(response)
    number = response.headers.get("X-Invoice-Number")
    file_id = response.headers.get("X-Invoice-File-Id")
    kind = response.headers.get("X-Document-Kind", "invoice")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if not number or not file_id or content_type != PDF:
        raise InvoicerUnavailable("the invoicer's answer lacks the document's number or PDF")
    return IssuedDocument(
        number=number,
        kind=kind,
        file_id=file_id,
        created=response.status_code == 201,
        pdf=response.content,
    )
