"""The Rakuten France connector: the to-do list, then each item's messages and mails.

Rakuten groups a conversation per sold item (``itemid``): the buyer's ``message``
elements and Rakuten France's customer-service ``mail`` elements of
``getiteminfos``. A Parley thread is one item, ``item:<itemid>`` (stable across
syncs), about the order the item belongs to (entity "order": the purchase id when
Rakuten gives it, else the item id).

Rakuten offers no date filter: ``getitemtodolist`` lists the items with an unread
buyer message, an unread Rakuten mail or a claim, which is what bounds a sync pass.
Each listed item is read with ``getiteminfos``; an item whose latest message or mail
is older than the cursor (taken to the minute, Rakuten's precision) is skipped, so
only conversations active since activation are pulled. An item stays listed until
its messages are read, so it may be published again by later passes; the
normalizer's deduplication by message id makes that harmless.

Senders map onto Parley's roles by name: the connection's own login → merchant,
anyone else writing a ``message`` → customer, anyone else writing a ``mail`` →
operator (Rakuten France).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime

from parley_connectors.errors import MarketplaceUnavailable, NotFound
from parley_connectors.rakuten import (
    DEFAULT_BASE_URL,
    MAIL,
    RakutenClient,
    RakutenItem,
    RakutenMessage,
    RakutenPayloadError,
    split_thread_id,
    thread_id_for,
)
from parley_connectors.reading import ConnectionInfo, MalformedThread
from parley_schemas import (
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
    utcnow,
)

VERSION_OPTIONS = ("getitemtodolist", "getiteminfos", "contactuseraboutitem")


def client_for(
    base_url: str, credentials: Mapping[str, str], options: Mapping[str, str]
) -> RakutenClient:
    """A client from a connection's fields; ``options['<action>_version']`` pins versions."""
    versions = {
        action: options[f"{action}_version"]
        for action in VERSION_OPTIONS
        if options.get(f"{action}_version")
    }
    return RakutenClient(
        base_url or DEFAULT_BASE_URL,
        credentials["login"],
        credentials["token"],
        versions=versions,
    )


class RakutenConnector:
    def __init__(self, connection: ConnectionInfo, client: RakutenClient | None = None) -> None:
        self._connection = connection
        self._client = client or client_for(
            connection.base_url, connection.credentials, connection.options
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        floor = since.replace(second=0, microsecond=0)
        itemids: list[str] = []
        try:
            async for entry in self._client.todo_items():
                if isinstance(entry, RakutenPayloadError):
                    yield MalformedThread(entry.reason, None, _as_dict(entry.payload))
                elif entry.itemid not in itemids:
                    itemids.append(entry.itemid)
        except RakutenPayloadError as exc:
            raise MarketplaceUnavailable(
                f"Rakuten answered an unreadable to-do list: {exc}"
            ) from exc
        active: list[RawThreadSnapshot] = []
        for itemid in itemids:
            item = await self._read(itemid)
            if isinstance(item, MalformedThread):
                yield item
            elif item.updated_at is not None and item.updated_at >= floor:
                active.append(item)
        active.sort(key=lambda s: (s.updated_at or floor, s.thread_id))
        for snapshot in active:
            yield snapshot

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        """One item now (manual resync); an id Rakuten cannot have is NotFound."""
        try:
            itemid = split_thread_id(thread_id)
        except ValueError as exc:
            raise NotFound(str(exc)) from exc
        return await self._read(itemid)

    async def _read(self, itemid: str) -> RawThreadSnapshot | MalformedThread:
        try:
            return self.snapshot(await self._client.item_infos(itemid))
        except RakutenPayloadError as exc:
            return MalformedThread(exc.reason, thread_id_for(itemid), _as_dict(exc.payload))

    def snapshot(self, item: RakutenItem) -> RawThreadSnapshot:
        c = self._connection
        login = self._client.login
        dates = [m.sent_at for m in item.messages] + ([item.date] if item.date else [])
        if not dates:
            raise RakutenPayloadError(
                "getiteminfos item has neither a date nor a message",
                thread_id=item.thread_id,
                payload=item.raw,
            )
        return RawThreadSnapshot(
            connection_id=c.id,
            store_id=c.store_id,
            marketplace=c.marketplace,
            family=c.family,
            channel="messages",
            thread_id=item.thread_id,
            subject=item.headline or item.item_state_label,
            entities=[
                RawEntity(type="order", id=item.purchase_id or item.itemid, label=item.headline)
            ],
            participants=_participants(item, login),
            messages=[_message(m, login, item.seller_id) for m in item.messages],
            created_at=min(dates),
            updated_at=item.last_activity,
            fetched_at=utcnow(),
            payload=item.raw,
        )


def _is_seller(name: str, login: str) -> bool:
    return name.strip().casefold() == login.strip().casefold()


def _role(message: RakutenMessage, login: str) -> ParticipantRole:
    if _is_seller(message.sender, login):
        return ParticipantRole.MERCHANT
    return ParticipantRole.OPERATOR if message.kind == MAIL else ParticipantRole.CUSTOMER


def _message(m: RakutenMessage, login: str, seller_id: str | None) -> RawMessage:
    role = _role(m, login)
    if role is ParticipantRole.MERCHANT:
        recipients = [ParticipantRole.OPERATOR if m.kind == MAIL else ParticipantRole.CUSTOMER]
    else:
        recipients = [ParticipantRole.MERCHANT]
    body = f"{m.subject}\n\n{m.content}" if m.kind == MAIL and m.subject else m.content
    # The shop is known by its ``sellerid`` (as its participant is), others by their name.
    shop = role is ParticipantRole.MERCHANT and seller_id
    return RawMessage(
        marketplace_message_id=m.message_id,
        sender=Participant(
            role=role, name=m.sender, marketplace_id=seller_id if shop else m.sender
        ),
        recipients=recipients,
        body=body,
        sent_at=m.sent_at,
    )


def _participants(item: RakutenItem, login: str) -> list[Participant]:
    buyer = None
    for m in item.messages:
        if m.kind == MAIL:
            continue
        if not _is_seller(m.sender, login):
            buyer = m.sender
            break
        buyer = buyer or m.recipient
    out = [Participant(role=ParticipantRole.CUSTOMER, name=buyer, marketplace_id=buyer)]
    if any(m.kind == MAIL for m in item.messages):
        operator = next(
            (m.sender for m in item.messages if m.kind == MAIL and not _is_seller(m.sender, login)),
            "Rakuten France",
        )
        out.append(Participant(role=ParticipantRole.OPERATOR, name=operator))
    out.append(
        Participant(role=ParticipantRole.MERCHANT, name=login, marketplace_id=item.seller_id)
    )
    return out


def _as_dict(payload: object) -> dict[str, object] | None:
    return payload if isinstance(payload, dict) else None
