"""Async client for Rakuten France's (ex-PriceMinister) sales web services (XML).

One client talks to one seller account (login + token); ingest uses the read side
(``getitemtodolist``, ``getiteminfos``), the responder the write side
(``contactuseraboutitem``).

What Rakuten France's documentation says, and this client relies on
(global.fr.shopping.rakuten.com/developpeur/: "Traitement des ventes après leur
confirmation (getitemtodolist)", "Récupérer le détail des éléments liés à un article
(getiteminfos)", "Envoi d'un message post vente à l'acheteur (contactuseraboutItem)",
"Identification par token", "Versions", and the error examples of the stock pages):

- Every call is ``https://ws.fr.shopping.rakuten.com/sales_ws?action=<action>&login=
  <seller login>&pwd=<token>&version=<yyyy-mm-dd>``: ``pwd`` carries the seller's
  token (not the password), ``version`` is mandatory and names the answer's format.
- ``getitemtodolist`` lists the sold items the seller has something to do about:
  an open claim, a message from the buyer not read by the seller, a message from
  Rakuten France not read by the seller. The details come from ``getiteminfos``
  with the item's id. It takes no other parameter (no date filter, no paging).
- ``getiteminfos`` (``itemid``) answers ``getiteminfosresult/response`` with
  ``sellerid`` and ``item``: ``itemid``, ``date``, ``itemstatus``, ``itemstate``,
  ``itemstatelabel``, ``claim``, ``availableactions``, ``mail`` elements (``mailid``,
  ``senddate``, ``sender``, ``recipient``, ``object``, ``content``, ``status``: the
  exchanges with Rakuten France's customer service), ``message`` elements
  (``sender``, ``recipient``, ``senddate``, ``content``, ``status``: the exchanges with
  the buyer) and ``itemlog``. Dates read ``15/02/2011-11:46``.
- ``contactuseraboutitem`` (``itemid``, ``content``) sends a message to the item's
  buyer, possible while the item is not under claim and was not declared received
  more than 15 days ago nor ordered more than 42 days ago, or while its claim is
  "amiable". The answer is a ``contactuseraboutitemresult``.
- Errors answer an ``errorresponse`` (namespace ``https://static.fr.shopping.rakuten
  .com/res/schema/error``) with ``error/type`` (e.g. Sender, ServerError),
  ``error/code`` (e.g. ParameterError), ``error/message`` and ``error/details/detail``
  ("The parameter login is mandatory", "The version xxxx-xx-xx is not supported").

Assumptions where the documentation is silent or unclear:

- Versions: getitemtodolist ``2011-09-01``, getiteminfos ``2017-08-07``,
  contactuseraboutitem ``2011-02-02`` (the versions the documentation's URLs and
  public integrations use); each can be overridden per connection.
- Dates are Paris wall-clock time, to the minute; they are converted to UTC.
- The exact element listing to-do items is not published: the client reads every
  ``item`` with an ``itemid`` under ``response`` (or ``response/items``). Should an
  answer carry a ``nexttoken`` (as ``getcurrentsales`` does), the next page is
  asked with ``&nexttoken=``; the sandbox pages that way.
- Mapping of errors: HTTP 429 → :class:`RateLimited` (``Retry-After``, 60 s when
  absent); HTTP 5xx, error type ServerError or "Unknown error" →
  :class:`MarketplaceUnavailable`; HTTP 401/403 or an error whose code or message
  (or a detail) speaks of login, token, password or authentication → :class:`AuthenticationFailed`;
  HTTP 404 → :class:`NotFound`; any other error → :class:`BadRequest` with
  Rakuten's message and details.
- ``content`` goes in the query string, as the documentation's URL shows, URL-encoded.

The client never retries (callers own retry policy) and never logs or repeats the
token: it only ever appears in the request URL, which is never logged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from parley_connectors.errors import AuthenticationFailed, MarketplaceUnavailable
from parley_connectors.http import (
    DEFAULT_TIMEOUT,
    MarketplaceHttpClient,
    clip,
    error_for_status,
    raise_if_rate_limited,
)
from parley_connectors.rakuten.models import (
    RakutenError,
    RakutenItem,
    RakutenPayloadError,
    RakutenTodoItem,
    RakutenTodoPage,
    parse_xml,
)
from parley_connectors.xmltree import local

DEFAULT_BASE_URL = "https://ws.fr.shopping.rakuten.com"
DEFAULT_VERSIONS: Mapping[str, str] = {
    "getitemtodolist": "2011-09-01",
    "getiteminfos": "2017-08-07",
    "contactuseraboutitem": "2011-02-02",
}
MAX_TODO_PAGES = 1000  # a guard against a token that never ends
_AUTH_WORDS = ("login", "token", "pwd", "password", "auth", "credential")
_SERVER_KINDS = ("servererror", "server", "unknown error")


@dataclass(frozen=True)
class RakutenContactResult:
    """``contactuseraboutitem`` accepted the message (Rakuten returns no message id)."""

    itemid: str
    raw_status: str | None = None


class RakutenClient(MarketplaceHttpClient):
    """Rakuten France's sales web services for one seller account.

    ``base_url`` is the web services' root (``https://ws.fr.shopping.rakuten.com`` or
    the sandbox's ``http://127.0.0.1:8900/rakuten/fr``). ``http`` and ``timeout``: see
    :class:`MarketplaceHttpClient`.
    """

    marketplace = "Rakuten"

    def __init__(
        self,
        base_url: str,
        login: str,
        token: str,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        if not (login and token):
            raise ValueError("Rakuten needs the seller's login and token")
        self._base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._login = login
        self._token = token
        self._versions = {**DEFAULT_VERSIONS, **(versions or {})}
        super().__init__(http, timeout=timeout)

    def __repr__(self) -> str:  # never shows the token
        return f"RakutenClient(base={self._base!r}, login={self._login!r})"

    @property
    def login(self) -> str:
        return self._login

    # --- getitemtodolist -------------------------------------------------------------

    async def todo_items(self) -> AsyncIterator[RakutenTodoItem | RakutenPayloadError]:
        """Every item on the seller's to-do list; an unreadable entry is yielded as error."""
        params: dict[str, str] = {}
        for _ in range(MAX_TODO_PAGES):
            root = await self._call("getitemtodolist", params)
            page = RakutenTodoPage.parse(root)
            for item in page.items:
                yield item
            if not page.next_token:
                return
            params = {"nexttoken": page.next_token}
        raise RakutenPayloadError(f"getitemtodolist kept paging past {MAX_TODO_PAGES} pages")

    # --- getiteminfos ----------------------------------------------------------------

    async def item_infos(self, itemid: str) -> RakutenItem:
        """One sold item with its messages and mails (strict)."""
        _check_itemid(itemid)
        root = await self._call("getiteminfos", {"itemid": itemid})
        return RakutenItem.parse(root, itemid)

    # --- contactuseraboutitem --------------------------------------------------------

    async def contact_user(self, itemid: str, content: str) -> RakutenContactResult:
        """Sends ``content`` to the buyer of ``itemid``."""
        _check_itemid(itemid)
        if not content.strip():
            raise ValueError("a message to the buyer cannot be empty")
        root = await self._call("contactuseraboutitem", {"itemid": itemid, "content": content})
        response = next((c for c in root if local(c.tag) == "response"), None)
        status = None
        if response is not None:
            status_element = next((c for c in response if local(c.tag) == "status"), None)
            if status_element is not None and status_element.text:
                status = status_element.text.strip()
        return RakutenContactResult(itemid=itemid, raw_status=status)

    # --- plumbing --------------------------------------------------------------------

    async def _call(self, action: str, params: dict[str, str]) -> ET.Element:
        query = {
            "action": action,
            "login": self._login,
            "pwd": self._token,
            "version": self._versions[action],
            **params,
        }
        response = await self._request(
            "GET", f"{self._base}/sales_ws", operation=action, params=query
        )
        status = response.status_code
        raise_if_rate_limited(response, action)
        try:
            root = parse_xml(response.content, action)
        except RakutenPayloadError:
            if status >= 500:
                raise MarketplaceUnavailable(f"{action} {status}", status=status) from None
            if status >= 400:
                _raise_for(status, action, RakutenError("", "", response.reason_phrase or ""))
            raise
        if local(root.tag) == "errorresponse":
            _raise_for(status, action, RakutenError.parse(root))
        if status >= 400:
            _raise_for(status, action, RakutenError("", "", response.reason_phrase or ""))
        if local(root.tag) != f"{action}result":
            raise RakutenPayloadError(f"{action} answered <{local(root.tag)}>")
        return root


def _check_itemid(itemid: str) -> None:
    if not itemid.isdigit():
        raise ValueError(f"a Rakuten itemid is numeric, got {itemid!r}")


def _raise_for(status: int, action: str, error: RakutenError) -> None:
    """Rakuten's error body first (a server fault, refused credentials), then the status."""
    message = f"{action} {status}: {clip(str(error))}"
    if status < 500:
        if error.type.lower() in _SERVER_KINDS:
            raise MarketplaceUnavailable(message, status=status)
        words = " ".join([error.code, error.message, *error.details]).lower()
        if any(word in words for word in _AUTH_WORDS):
            raise AuthenticationFailed(message, status=status)
    raise error_for_status(status, message)
