"""Async client for the Fnac Marketplace API's messaging services (XML over HTTPS).

One client talks to one shop (partner_id, shop_id, key); ingest uses the read side
(``messages_query``), the responder the write side (``messages_update``). The same
API serves Darty's marketplace, so only the base URL differs.

What the Fnac documentation says, and this client relies on (Fnac's official API
client and its XSDs, github.com/FnacMarketplace/fnacapiclient:
``Resources/xsd/{AuthenticationService,MessagesQueryService,MessagesUpdateService,
base,state,common}.xsd``, ``Client/Client.php``, ``Client/SimpleClient.php``,
``Service/Request/{Query,MessageQuery,Authentification}.php``):

- Every service is ``POST {host}/{service_name}`` with a ``text/xml`` body whose root
  element is the service name, in namespace
  ``http://www.fnac.com/schemas/mp-dialog.xsd``. Hosts: ``https://vendeur.fnac.com/
  api.php`` (production), ``https://marketplace.ws.fd-recette.net/api.php`` (test).
- ``auth``: ``<auth><partner_id/><shop_id/><key/></auth>`` answers
  ``<auth_response status="OK"><token/><validity/><version/></auth_response>``; the
  token "will remain valid during the session", until ``validity``. A refused
  triple answers ``status="ERROR"`` with an ``<error>`` ("Authentication failed : one
  of the parameters (partner_id, key, shop_id) is invalid").
- Every other request carries ``partner_id``, ``shop_id`` and ``token`` as attributes
  of its root element (``base.xsd`` ``request_header``). Every answer has a
  ``status`` attribute: OK, ACTIVE, RUNNING, WARNING, ERROR or FATAL, with
  ``<error severity code>`` children explaining ERROR/FATAL.
- ``messages_query``: attribute ``results_count`` (default 100); ``<paging>`` (page
  number from 1); filters ``<date type="CreatedAt|UpdatedAt"><min/><max/></date>``,
  ``message_type`` (ORDER|OFFER), ``message_state`` (READ|UNREAD),
  ``message_archived``, ``message_id``, ``order_fnac_id``, ``offer_fnac_id``,
  ``offer_seller_id``, ``<sort_by type="ASC|DESC">CREATED_AT|UPDATED_AT</sort_by>``,
  ``message_from_types``. The answer has ``page``, ``total_paging``,
  ``nb_total_result`` and ``message`` elements: attributes ``state`` (READ|UNREAD) and
  ``archived``; ``message_id``, ``message_referer type="ORDER|OFFER"`` (the order id or
  the offer reference), ``message_from type="CLIENT|CALLCENTER|SELLER"`` (the
  sender's name), ``message_offer_title``, ``message_subject``,
  ``message_description``, ``created_at``, ``updated_at``, ``answer``, ``answer_at``
  and ``message_file`` (``name``, ``url``, ``filetype``).
- ``messages_update``: ``<message action id>`` with ``message_to``
  (CLIENT | CALLCENTER — "allowed only if the order is in incident status" — | ALL),
  ``message_subject`` (product_information, shipping_information,
  order_information, offer_problem, offer_not_received, other_question),
  ``message_description`` and ``message_type`` (ORDER|OFFER); actions include
  ``reply``, ``mark_as_read``, ``mark_as_unread``, ``archive``. The answer has one
  ``<message status id>`` per message acted on, with its own ``<error>`` children.

Assumptions where the documentation is silent or unclear:

- Paging is by page number, so messages are asked oldest-updated first
  (``sort_by type="ASC"`` on UPDATED_AT): a message arriving during a sync lands on
  the last page instead of shifting the pages already read. ``results_count`` is
  capped at 100 (the documented default; no maximum is published).
- ``date/min`` is inclusive. Dates are sent as ``xs:dateTime`` in UTC with an offset.
- A ``message_referer`` of type ORDER is the order's Fnac id (``order_fnac_id``
  filter); one of type OFFER is the offer's Fnac id (``offer_fnac_id`` filter).
- An expired or unknown token is reported either with HTTP 401/403 or with an
  ERROR/FATAL answer whose error mentions the token; the client then authenticates
  again once and repeats the call (the refused call did nothing, so this is a
  credential refresh, not a retry). Tokens are also renewed a minute before
  ``validity``.
- Fnac documents no rate-limit answer; an HTTP 429 is read as such (``Retry-After``
  in seconds, 60 when absent). 5xx and timeouts are :class:`MarketplaceUnavailable`.
  An ERROR/FATAL answer to a well-formed request is a :class:`BadRequest` carrying
  Fnac's error text; a ``message`` line answered with an error too.
- A ``message_file/url`` is fetched with a plain GET, without the token.

The client never retries faults (callers own the retry policy) and never logs or
repeats the key or the token: they are only ever written into request bodies.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import httpx

from parley_connectors.errors import AuthenticationFailed, BadRequest, NotFound
from parley_connectors.fnac.models import (
    NAMESPACE,
    OFFER,
    ORDER,
    FnacError,
    FnacMessage,
    FnacPage,
    FnacPayloadError,
    FnacToken,
    FnacUpdateResult,
    format_datetime,
    parse_datetime,
    parse_xml,
)
from parley_connectors.http import (
    DEFAULT_TIMEOUT,
    MarketplaceHttpClient,
    clip,
    error_for_status,
    http_reason,
    media_type,
    raise_if_transient,
)
from parley_connectors.xmltree import children, local, text

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
TOKEN_MARGIN = timedelta(minutes=1)
_REFUSED = frozenset({"ERROR", "FATAL"})


@dataclass(frozen=True)
class DownloadedFile:
    """A ``message_file``'s bytes."""

    url: str
    name: str
    content_type: str
    content: bytes


class FnacClient(MarketplaceHttpClient):
    """The messaging services of the Fnac Marketplace API for one shop.

    ``base_url`` is the API root including ``api.php`` (``https://vendeur.fnac.com/
    api.php``, or the sandbox's ``http://127.0.0.1:8900/fnac/fnac/api.php``). ``http``
    and ``timeout``: see :class:`MarketplaceHttpClient`.
    """

    marketplace = "Fnac"

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        shop_id: str,
        key: str,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not (partner_id and shop_id and key):
            raise ValueError("Fnac needs a partner_id, a shop_id and a key")
        self._api = base_url.rstrip("/")
        self._partner_id = partner_id
        self._shop_id = shop_id
        self._key = key
        self._clock = clock or (lambda: datetime.now(UTC))
        super().__init__(http, timeout=timeout)
        self._token: FnacToken | None = None

    def __repr__(self) -> str:  # never shows the key or the token
        return f"FnacClient(api={self._api!r}, shop_id={self._shop_id!r})"

    # --- auth ------------------------------------------------------------------------

    async def authenticate(self) -> FnacToken:
        """A fresh session token (``auth``); later calls reuse it until it expires."""
        root = ET.Element("auth", {"xmlns": NAMESPACE})
        for name, value in (
            ("partner_id", self._partner_id),
            ("shop_id", self._shop_id),
            ("key", self._key),
        ):
            ET.SubElement(root, name).text = value
        response = await self._post("auth", root)
        if response.status_code in (401, 403):
            raise AuthenticationFailed(f"auth {response.status_code}", status=response.status_code)
        raise_if_transient(response, "auth")
        answer = parse_xml(response.content, "auth")
        token = text(answer, "token")
        status = (answer.get("status") or "").upper()
        if status != "OK" or not token:
            errors = "; ".join(str(e) for e in FnacError.read_all(answer)) or "no token"
            raise AuthenticationFailed(f"auth refused: {clip(errors)}")
        validity_text = text(answer, "validity")
        try:
            validity = parse_datetime(validity_text) if validity_text else None
        except ValueError as exc:
            raise FnacPayloadError(f"auth validity is not a date: {validity_text!r}") from exc
        self._token = FnacToken(token=token, validity=validity, version=text(answer, "version"))
        return self._token

    async def _session_token(self) -> str:
        token = self._token
        if token is None or (
            token.validity is not None and token.validity - TOKEN_MARGIN <= self._clock()
        ):
            token = await self.authenticate()
        return token.token

    # --- messages_query --------------------------------------------------------------

    async def list_messages(
        self,
        updated_since: datetime | None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        message_type: str | None = None,
        order_id: str | None = None,
        offer_id: str | None = None,
    ) -> AsyncIterator[FnacMessage | FnacPayloadError]:
        """Every message updated at or after ``updated_since``, across all pages.

        A malformed message is *yielded* as its :class:`FnacPayloadError` so the caller
        can dead-letter it and go on; a page that cannot be read at all raises.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}")
        page_number = 1
        while True:
            page = await self._query_page(
                page_number, page_size, updated_since, message_type, order_id, offer_id
            )
            for item in page.messages:
                yield item
            if page.last or not page.messages or page.page < page_number:
                return
            page_number = page.page + 1

    async def thread_messages(
        self, referer_type: str, referer: str, *, page_size: int = MAX_PAGE_SIZE
    ) -> list[FnacMessage]:
        """Every message of one conversation (one order or one offer), oldest first.

        Strict: a malformed message raises :class:`FnacPayloadError`; an unknown
        conversation raises :class:`NotFound`.
        """
        kind = referer_type.upper()
        if kind not in (ORDER, OFFER):
            raise ValueError(f"a Fnac conversation is about an ORDER or an OFFER, not {kind!r}")
        messages: list[FnacMessage] = []
        async for item in self.list_messages(
            None,
            page_size=page_size,
            message_type=kind,
            order_id=referer if kind == ORDER else None,
            offer_id=referer if kind == OFFER else None,
        ):
            if isinstance(item, FnacPayloadError):
                raise item
            if item.thread_key == (kind, referer):
                messages.append(item)
        if not messages:
            raise NotFound(f"no Fnac messages about {kind.lower()} {referer}", status=None)
        messages.sort(key=lambda m: (m.created_at, m.message_id))
        return messages

    async def _query_page(
        self,
        page_number: int,
        page_size: int,
        updated_since: datetime | None,
        message_type: str | None,
        order_id: str | None,
        offer_id: str | None,
    ) -> FnacPage:
        def build(root: ET.Element) -> None:
            root.set("results_count", str(page_size))
            ET.SubElement(root, "paging").text = str(page_number)
            if updated_since is not None:
                date = ET.SubElement(root, "date", {"type": "UpdatedAt"})
                ET.SubElement(date, "min").text = format_datetime(updated_since)
            if message_type:
                ET.SubElement(root, "message_type").text = message_type
            if order_id:
                ET.SubElement(root, "order_fnac_id").text = order_id
            if offer_id:
                ET.SubElement(root, "offer_fnac_id").text = offer_id
            ET.SubElement(root, "sort_by", {"type": "ASC"}).text = "UPDATED_AT"

        answer = await self._call("messages_query", build)
        page = FnacPage.parse(answer)
        log.debug(
            "fnac messages_query page",
            extra={"page": page.page, "total_paging": page.total_paging},
        )
        return page

    # --- messages_update -------------------------------------------------------------

    async def reply(
        self,
        message_id: str,
        body: str,
        *,
        to: str,
        subject: str,
        message_type: str,
    ) -> FnacUpdateResult:
        """Answers a message (``action="reply"``): ``to`` is CLIENT, CALLCENTER or ALL."""

        def build(root: ET.Element) -> None:
            message = ET.SubElement(root, "message", {"action": "reply", "id": message_id})
            ET.SubElement(message, "message_to").text = to
            ET.SubElement(message, "message_subject").text = subject
            ET.SubElement(message, "message_description").text = body
            ET.SubElement(message, "message_type").text = message_type

        (result,) = await self._update(build, [message_id])
        return result

    async def mark_read(self, message_ids: Sequence[str]) -> list[FnacUpdateResult]:
        """``action="mark_as_read"`` on each message."""

        def build(root: ET.Element) -> None:
            for message_id in message_ids:
                ET.SubElement(root, "message", {"action": "mark_as_read", "id": message_id})

        return await self._update(build, list(message_ids))

    async def _update(
        self, build: Callable[[ET.Element], None], expected: list[str]
    ) -> list[FnacUpdateResult]:
        answer = await self._call("messages_update", build)
        results = []
        for line in children(answer, "message"):
            errors = tuple(FnacError.read_all(line))
            result = FnacUpdateResult(
                message_id=line.get("id") or "",
                status=(line.get("status") or "").upper(),
                errors=errors,
            )
            if result.status in _REFUSED:
                explained = "; ".join(str(e) for e in errors) or result.status
                raise BadRequest(f"messages_update refused {result.message_id}: {explained}")
            results.append(result)
        if len(results) != len(expected):
            raise FnacPayloadError(
                f"messages_update answered {len(results)} lines for {len(expected)} messages"
            )
        return results

    # --- message files ---------------------------------------------------------------

    async def download(self, url: str) -> DownloadedFile:
        """A ``message_file``'s bytes (a plain GET on its ``url``)."""
        absolute = urljoin(self._api + "/", url)
        response = await self._request("GET", absolute, operation="message_file")
        raise_if_transient(response, "message_file")
        if response.status_code >= 400:
            _raise_refusal(response.status_code, "message_file", http_reason(response))
        return DownloadedFile(
            url=url,
            name=url.rstrip("/").rsplit("/", 1)[-1],
            content_type=media_type(response),
            content=response.content,
        )

    # --- plumbing --------------------------------------------------------------------

    async def _call(self, service: str, build: Callable[[ET.Element], None]) -> ET.Element:
        """One service call with the session token; one new token if it was refused."""
        for attempt in (1, 2):
            root = ET.Element(
                service,
                {
                    "xmlns": NAMESPACE,
                    "partner_id": self._partner_id,
                    "shop_id": self._shop_id,
                    "token": await self._session_token(),
                },
            )
            build(root)
            response = await self._post(service, root)
            raise_if_transient(response, service)
            answer = _parse_answer(response, service)
            errors = FnacError.read_all(answer) if answer is not None else []
            status = (answer.get("status") or "").upper() if answer is not None else ""
            token_refused = response.status_code in (401, 403) or (
                status in _REFUSED and any(_about_token(e) for e in errors)
            )
            if token_refused:
                self._token = None
                if attempt == 1:
                    log.info("fnac token refused; authenticating again", extra={"service": service})
                    continue
                raise AuthenticationFailed(
                    f"{service}: the session token was refused", status=response.status_code
                )
            explained = clip("; ".join(str(e) for e in errors))
            if response.status_code >= 400:
                _raise_refusal(response.status_code, service, explained or http_reason(response))
            if answer is None:  # pragma: no cover - _parse_answer raises on 2xx
                raise FnacPayloadError(f"{service} answer is empty")
            if status in _REFUSED and (service != "messages_update" or errors):
                raise BadRequest(f"{service} {status}: {explained or 'no details'}", status=None)
            if local(answer.tag) != f"{service}_response":
                raise FnacPayloadError(
                    f"{service} answered <{local(answer.tag)}>, not <{service}_response>"
                )
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, service: str, root: ET.Element) -> httpx.Response:
        body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return await self._request(
            "POST",
            f"{self._api}/{service}",
            operation=service,
            content=body,
            headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"},
        )


def _parse_answer(response: httpx.Response, service: str) -> ET.Element | None:
    """The answer's root; an error answer that is not XML yields ``None``."""
    try:
        return parse_xml(response.content, service)
    except FnacPayloadError:
        if response.status_code >= 400:
            return None
        raise


def _about_token(error: FnacError) -> bool:
    words = f"{error.code or ''} {error.message}".lower()
    return "token" in words


def _raise_refusal(status: int, operation: str, explained: str) -> None:
    """A 4xx other than 429 (those and 5xx are raised first, whatever the body says)."""
    raise error_for_status(status, f"{operation} {status}: {explained}")
