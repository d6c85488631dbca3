"""The Rakuten France family's write side: ``contactuseraboutitem``, reconciled by ``getiteminfos``.

``contactuseraboutitem`` writes to the item's buyer only, so the customer is the one
recipient Rakuten accepts here (Rakuten France's customer service is reached by
another action, not offered). Rakuten answers without a message id; the item is
read again after sending to find our message and return the id ingest derives for
it (best effort: the message is already delivered, a failing lookup must not make
it look failed and be re-sent). The same read answers "did our reply arrive?" after
a crash: a message from our login with the same text, dated at or after the moment
the send started (Rakuten dates are to the minute, so less a minute and a
clock-skew margin).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from parley_connectors.errors import BadRequest, MarketplaceError
from parley_connectors.files import OutgoingFile
from parley_connectors.rakuten import (
    DEFAULT_BASE_URL,
    MAIL,
    RakutenClient,
    RakutenItem,
    split_thread_id,
)
from parley_connectors.writing import Destination, ShopReply
from parley_schemas import ParticipantRole, utcnow

if TYPE_CHECKING:  # the pool is the connectors library's httpx; no import at run time
    import httpx

CLOCK_SKEW = timedelta(minutes=3)
VERSION_OPTIONS = ("getitemtodolist", "getiteminfos", "contactuseraboutitem")


class RakutenReplies:
    """``http`` shares a connection pool (tests pass the sandbox's in-process one)."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http

    def _client(self, destination: Destination) -> RakutenClient:
        options = destination.options
        versions = {
            action: options[f"{action}_version"]
            for action in VERSION_OPTIONS
            if options.get(f"{action}_version")
        }
        return RakutenClient(
            destination.base_url or DEFAULT_BASE_URL,
            destination.credentials["login"],
            destination.credentials["token"],
            http=self._http,
            versions=versions,
        )

    async def send(
        self,
        destination: Destination,
        thread_id: str,
        body: str,
        to: list[ParticipantRole],
        attachments: Sequence[OutgoingFile] = (),
        *,
        reference: str = "",
    ) -> str | None:
        if attachments:
            # The responder sends Rakuten files as download links in the text instead.
            raise BadRequest("Rakuten's reply API carries no attachments")
        itemid = _item(thread_id)
        refused = set(to) - {ParticipantRole.CUSTOMER}
        if refused:
            names = ", ".join(sorted(r.value for r in refused))
            raise BadRequest(f"Rakuten's contactuseraboutitem only reaches the buyer, not: {names}")
        started = utcnow()
        async with self._client(destination) as client:
            await client.contact_user(itemid, body)
            try:
                item = await client.item_infos(itemid)
            except MarketplaceError:
                return None
            return _find(item, client.login, body, started)

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        itemid = _item(thread_id)
        async with self._client(destination) as client:
            item = await client.item_infos(itemid)
            login = client.login
        # Rakuten dates messages to the minute.
        floor = since.replace(second=0, microsecond=0) - CLOCK_SKEW
        return [
            ShopReply(message.message_id, message.content, message.sent_at)
            for message in item.messages
            if message.kind != MAIL
            and message.sender.strip().casefold() == login.strip().casefold()
            and message.sent_at >= floor
        ]


def _item(thread_id: str) -> str:
    try:
        return split_thread_id(thread_id)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _find(item: RakutenItem, login: str, body: str, since: datetime) -> str | None:
    floor = since.replace(second=0, microsecond=0) - CLOCK_SKEW
    text = body.strip()
    for message in sorted(item.messages, key=lambda m: m.sent_at, reverse=True):
        if (
            message.kind != MAIL
            and message.sender.strip().casefold() == login.strip().casefold()
            and message.content.strip() == text
            and message.sent_at >= floor
        ):
            return message.message_id
    return None
