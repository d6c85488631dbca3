"""HTTP plumbing every marketplace client shares, whatever its API family.

The families differ in paths, authentication, wire formats and error bodies. They do
not differ in how an HTTP answer maps onto :mod:`parley_connectors.errors`, how long a
call may take, who closes the connection pool, or how ``Retry-After`` and
``Content-Disposition`` are read. Those live here, once, so the clients cannot drift
apart; each family passes in only what is its own (how to read its error bodies, its
name in messages).

Facts relied on:

- RFC 9110 §10.2.3: ``Retry-After`` is either delta-seconds or an HTTP-date.
- RFC 6266 §4.3: ``Content-Disposition`` names the file in ``filename`` and, exactly,
  in ``filename*`` (RFC 8187 encoding); a recipient prefers ``filename*``.
- httpx: a borrowed ``AsyncClient`` belongs to whoever made it; its own timeouts bound
  each phase (connect, read …), not a whole call, hence the ``asyncio.timeout`` around
  every request.

Mapping, for every family (a family may refine it first from its error body):
429 → :class:`RateLimited` (``Retry-After``, 60 s when absent or unreadable);
401/403 → :class:`AuthenticationFailed` (403, a resource the credentials cannot reach,
is the credentials' fault rather than the request's); 404 → :class:`NotFound`; 5xx,
timeouts and transport failures → :class:`MarketplaceUnavailable`; any other 4xx →
:class:`BadRequest` carrying the marketplace's own explanation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from email.utils import collapse_rfc2231_value, parsedate_to_datetime
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import quote

import httpx

from parley_connectors.errors import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceError,
    MarketplaceUnavailable,
    NotFound,
    PayloadError,
    RateLimited,
)
from parley_connectors.files import DownloadedFile
from parley_schemas import as_utc, utcnow

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 60.0
DEFAULT_TIMEOUT = 30.0
ERROR_TEXT_LIMIT = 300
OCTET_STREAM = "application/octet-stream"

QueryParams = dict[str, str] | tuple[tuple[str, str], ...]
MultipartFiles = list[tuple[str, tuple[str | None, bytes, str]]]


class MarketplaceHttpClient:
    """Base of the family clients: one ``httpx.AsyncClient``, owned or borrowed.

    Pass ``http`` to share a connection pool (its lifetime stays the caller's);
    otherwise the client makes one and :meth:`aclose` (or ``async with``) closes it.
    ``timeout`` bounds each call end to end (connect, wait and body), whatever the
    transport: a marketplace that answers too slowly is unavailable, not a hung sync.
    """

    marketplace: ClassVar[str] = "the marketplace"  # as error messages name it

    def __init__(self, http: httpx.AsyncClient | None, *, timeout: float) -> None:
        self._timeout = timeout
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        files: MultipartFiles | None = None,
    ) -> httpx.Response:
        """One request, whatever its status; no answer in time is unavailability."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.request(
                    method, url, params=params, headers=headers, content=content, files=files
                )
        except TimeoutError as exc:
            raise MarketplaceUnavailable(
                f"{operation}: no answer within {self._timeout:g}s"
            ) from exc
        except httpx.TimeoutException as exc:
            raise MarketplaceUnavailable(f"{operation}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise MarketplaceUnavailable(
                f"{operation}: could not reach {self.marketplace} ({type(exc).__name__})"
            ) from exc
        # Host and path only: query strings carry credentials (Rakuten's login and
        # token) and sometimes message text; httpx's own request lines are silenced.
        log.info(
            "marketplace call",
            extra={
                "marketplace": self.marketplace,
                "operation": operation,
                "method": method,
                "host": response.request.url.host,
                "path": response.request.url.path,
                "status": response.status_code,
            },
        )
        return response


# --- statuses → errors -----------------------------------------------------------------


def retry_after_seconds(header: str | None, default: float = DEFAULT_RETRY_AFTER) -> float:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date, else ``default``."""
    if not header:
        return default
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return default
    return max(0.0, (as_utc(when) - utcnow()).total_seconds())


def error_for_status(
    status: int, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER
) -> MarketplaceError:
    """The family-neutral error for an HTTP status (an error answer under 400 is a refusal)."""
    if status == 429:
        return RateLimited(retry_after, message)
    if status >= 500:
        return MarketplaceUnavailable(message, status=status)
    if status in (401, 403):
        return AuthenticationFailed(message, status=status)
    if status == 404:
        return NotFound(message, status=status)
    return BadRequest(message, status=status if status >= 400 else None)


def raise_for_status(
    response: httpx.Response, operation: str, explain: Callable[[httpx.Response], str]
) -> None:
    """Raises the mapped error for a 4xx/5xx, ``explain`` reading the family's error body."""
    status = response.status_code
    if status < 400:
        return
    raise error_for_status(
        status,
        f"{operation} {status}: {explain(response)}",
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
    )


def raise_if_rate_limited(response: httpx.Response, operation: str) -> None:
    """429, whatever the body says: families whose error bodies say nothing about it."""
    if response.status_code == 429:
        raise RateLimited(
            retry_after_seconds(response.headers.get("retry-after")),
            f"{operation} 429: rate limited",
        )


def raise_if_transient(response: httpx.Response, operation: str) -> None:
    """429 and 5xx, whatever the body says (often a proxy's page, not the API's)."""
    raise_if_rate_limited(response, operation)
    status = response.status_code
    if status >= 500:
        raise MarketplaceUnavailable(
            f"{operation} {status}: {http_reason(response)}", status=status
        )


# --- reading answers -------------------------------------------------------------------


def http_reason(response: httpx.Response) -> str:
    return response.reason_phrase or "no details"


def clip(text: str) -> str:
    """A marketplace's explanation, short enough for an exception and a log line."""
    return text[:ERROR_TEXT_LIMIT]


def body_or_reason(response: httpx.Response) -> str:
    """The error body as text when it is not the family's format, else the reason phrase."""
    text = response.text.strip()
    return clip(text) if text else http_reason(response)


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def first_text(payload: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    """The first non-empty string among ``keys``, clipped: an error body's message."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return clip(value)
    return None


def read_json(
    response: httpx.Response,
    operation: str,
    error: type[PayloadError],
    *,
    thread_id: str | None = None,
) -> Any:
    """The answer's JSON, or the family's payload error quoting its first characters."""
    try:
        return response.json()
    except ValueError as exc:
        raise error(
            f"{operation} answer is not JSON: {response.text[:80]!r}",
            thread_id=thread_id,
            status=response.status_code,
        ) from exc


def media_type(response: httpx.Response) -> str:
    """The answer's media type without parameters, ``application/octet-stream`` if none."""
    content_type = response.headers.get("content-type", OCTET_STREAM)
    return content_type.split(";")[0].strip() or OCTET_STREAM


def filename_from_disposition(disposition: str | None) -> str | None:
    """The file name of a Content-Disposition header, RFC 6266 ``filename*`` first."""
    if not disposition:
        return None
    message = Message()
    message["content-disposition"] = disposition
    plain: str | None = None
    for key, value in message.get_params(header="content-disposition") or []:
        if key.lower() != "filename":
            continue
        if isinstance(value, tuple):  # RFC 2231/6266 filename*: the exact name
            return collapse_rfc2231_value(value) or None
        plain = plain or value or None
    return plain


def downloaded_file(response: httpx.Response, attachment_id: str) -> DownloadedFile:
    """An attachment download: its bytes, its announced name (else its id), its type."""
    name = filename_from_disposition(response.headers.get("content-disposition"))
    return DownloadedFile(
        attachment_id=attachment_id,
        name=name or attachment_id,
        content_type=media_type(response),
        content=response.content,
    )


# --- building requests -----------------------------------------------------------------


def path_segment(value: str) -> str:
    """An id as one URL path segment: required, and every reserved character escaped."""
    if not value:
        raise ValueError("an id is required")
    return quote(value, safe="")


__all__ = [
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_TIMEOUT",
    "ERROR_TEXT_LIMIT",
    "MarketplaceHttpClient",
    "body_or_reason",
    "clip",
    "downloaded_file",
    "error_for_status",
    "filename_from_disposition",
    "first_text",
    "http_reason",
    "json_or_none",
    "media_type",
    "path_segment",
    "raise_for_status",
    "raise_if_rate_limited",
    "raise_if_transient",
    "read_json",
    "retry_after_seconds",
]
