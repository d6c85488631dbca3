"""The Fnac connector: ``messages_query`` since the cursor, grouped into conversations.

Fnac lists messages one by one; the marketplace's own grouping is the
``message_referer`` (an order id or an offer reference), so a Parley thread is one
referer: ``order:<id>`` or ``offer:<ref>`` (stable across syncs). A sync pass reads
every message updated at or after the cursor (``date type="UpdatedAt"``), collects
the conversations they belong to, then reads each whole conversation
(``order_fnac_id``/``offer_fnac_id`` filter) so a snapshot always carries every
message, oldest activity first.

Senders map onto Parley's roles: CLIENT → customer, CALLCENTER (Fnac's customer
service) and SYSTEM (Fnac itself) → operator, SELLER → merchant. A seller's answer
that Fnac shows only as ``answer``/``answer_at`` on the message it answers becomes a
merchant message with the id ``<message id>:answer``, unless the same text is already
there as a SELLER message. Entities are "order" or "offer".

A message that cannot be read dead-letters its conversation when re-reading the
conversation fails too; a page that cannot be read at all stops the pass as a
marketplace fault (the cursor stays, the pass is repeated later).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from parley_connectors.errors import MarketplaceUnavailable, NotFound
from parley_connectors.fnac import (
    CALLCENTER,
    CLIENT,
    OFFER,
    SELLER,
    SYSTEM,
    FnacClient,
    FnacMessage,
    FnacPayloadError,
    split_thread_id,
    thread_id_for,
)
from parley_connectors.reading import ConnectionInfo, FetchedFile, MalformedThread
from parley_schemas import (
    AttachmentRef,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
    utcnow,
)

_ROLES = {
    CLIENT: ParticipantRole.CUSTOMER,
    CALLCENTER: ParticipantRole.OPERATOR,
    SYSTEM: ParticipantRole.OPERATOR,
    SELLER: ParticipantRole.MERCHANT,
}
ANSWER_SUFFIX = ":answer"


class UnknownSender(ValueError):
    """A ``message_from`` type Fnac added that Parley cannot place."""


class FnacConnector:
    def __init__(
        self, connection: ConnectionInfo, client: FnacClient | None = None, *, page_size: int = 100
    ) -> None:
        self._connection = connection
        self._page_size = page_size
        credentials = connection.credentials
        self._client = client or FnacClient(
            connection.base_url,
            credentials["partner_id"],
            credentials["shop_id"],
            credentials["key"],
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        touched: dict[tuple[str, str], datetime] = {}
        try:
            async for item in self._client.list_messages(since, page_size=self._page_size):
                if isinstance(item, FnacPayloadError):
                    if item.thread_id is None:
                        yield MalformedThread(item.reason, None, _as_dict(item.payload))
                        continue
                    key = split_thread_id(item.thread_id)
                    touched[key] = min(touched.get(key, since), since)
                    continue
                touched[item.thread_key] = max(touched.get(item.thread_key, since), item.updated_at)
        except FnacPayloadError as exc:
            raise MarketplaceUnavailable(f"Fnac answered an unreadable page: {exc}") from exc
        for key in sorted(touched, key=lambda k: (touched[k], k)):
            yield await self._conversation(*key)

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        """One conversation now (manual resync); an id Fnac cannot have is NotFound."""
        try:
            kind, referer = split_thread_id(thread_id)
        except ValueError as exc:
            raise NotFound(str(exc)) from exc
        return await self._conversation(kind, referer)

    async def fetch_attachment(self, attachment: AttachmentRef) -> FetchedFile:
        """A ``message_file``: its id in Parley is its ``url``."""
        assert attachment.marketplace_attachment_id is not None
        file = await self._client.download(attachment.marketplace_attachment_id)
        return FetchedFile(
            name=attachment.name or file.name, content_type=file.content_type, content=file.content
        )

    async def _conversation(self, kind: str, referer: str) -> RawThreadSnapshot | MalformedThread:
        thread_id = thread_id_for(kind, referer)
        try:
            messages = await self._client.thread_messages(kind, referer, page_size=self._page_size)
            return self.snapshot(kind, referer, messages)
        except FnacPayloadError as exc:
            return MalformedThread(exc.reason, thread_id, _as_dict(exc.payload))
        except UnknownSender as exc:
            return MalformedThread(str(exc), thread_id)

    def snapshot(self, kind: str, referer: str, messages: list[FnacMessage]) -> RawThreadSnapshot:
        c = self._connection
        first = messages[0]
        label = next((m.offer_title for m in messages if m.offer_title), None)
        raw_messages = _with_answers(messages)
        updated = max(
            [m.updated_at for m in messages] + [m.answer_at for m in messages if m.answer_at]
        )
        return RawThreadSnapshot(
            connection_id=c.id,
            store_id=c.store_id,
            marketplace=c.marketplace,
            family=c.family,
            channel="messages",
            thread_id=thread_id_for(kind, referer),
            subject=first.subject,
            entities=[
                RawEntity(type="offer" if kind == OFFER else "order", id=referer, label=label)
            ],
            participants=_participants(messages),
            messages=raw_messages,
            created_at=min(m.created_at for m in messages),
            updated_at=updated,
            fetched_at=utcnow(),
            payload={
                "message_referer": {"type": kind, "value": referer},
                "messages": [m.raw for m in messages],
            },
        )


def _role(from_type: str | None) -> ParticipantRole:
    try:
        return _ROLES[(from_type or "").upper()]
    except KeyError:
        raise UnknownSender(f"unknown Fnac message_from type {from_type!r}") from None


def _participants(messages: list[FnacMessage]) -> list[Participant]:
    seen: dict[ParticipantRole, Participant] = {}
    for message in messages:
        role = _role(message.from_type)
        if role not in seen:
            seen[role] = Participant(role=role, name=message.from_name)
    if any(m.answer for m in messages) and ParticipantRole.MERCHANT not in seen:
        seen[ParticipantRole.MERCHANT] = Participant(role=ParticipantRole.MERCHANT)
    order = [ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR, ParticipantRole.MERCHANT]
    return [seen[role] for role in order if role in seen]


def _message(m: FnacMessage) -> RawMessage:
    role = _role(m.from_type)
    return RawMessage(
        marketplace_message_id=m.message_id,
        sender=Participant(role=role, name=m.from_name),
        recipients=[] if role is ParticipantRole.MERCHANT else [ParticipantRole.MERCHANT],
        body=m.description,
        sent_at=m.created_at,
        attachments=[
            AttachmentRef(marketplace_attachment_id=f.url, name=f.name, content_type=f.filetype)
            for f in m.files
        ],
    )


def _with_answers(messages: list[FnacMessage]) -> list[RawMessage]:
    """Every message, plus the seller answers Fnac shows only inline (``answer``)."""
    out = [_message(m) for m in messages]
    seller_texts = {m.description.strip() for m in messages if _role(m.from_type) is _SELLER}
    for m in messages:
        if not m.answer or m.answer.strip() in seller_texts:
            continue
        out.append(
            RawMessage(
                marketplace_message_id=f"{m.message_id}{ANSWER_SUFFIX}",
                sender=Participant(role=ParticipantRole.MERCHANT),
                recipients=[_role(m.from_type)],
                body=m.answer,
                sent_at=m.answer_at or m.updated_at,
            )
        )
    out.sort(key=lambda r: (r.sent_at, r.marketplace_message_id))
    return out


_SELLER = ParticipantRole.MERCHANT


def _as_dict(payload: object) -> dict[str, object] | None:
    return payload if isinstance(payload, dict) else None
