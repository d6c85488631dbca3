"""The Fnac family's write side: ``messages_update`` replies, reconciled by ``messages_query``.

Fnac replies to a *message* (``action="reply"`` with its id), so the conversation is
read first and the reply goes to its latest message from the buyer or from Fnac's
customer service. Recipients map to ``message_to``: customer → CLIENT, operator →
CALLCENTER (Fnac accepts it only while the order is in incident), both → ALL. The
subject is ``order_information`` on an order, ``product_information`` on an offer.

Fnac's answer names the message replied to, not the one created, so after sending
the conversation is read again to find our SELLER message (best effort: the reply is
already delivered, a failing lookup must not make it look failed and be re-sent).
The same read lists the shop's messages (SELLER messages, and ``answer`` texts on
messages) dated at or after a moment (less a clock-skew margin), from which
the responder's reconciliation tells whether *our* reply arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from parley_connectors.errors import BadRequest, MarketplaceError
from parley_connectors.files import OutgoingFile
from parley_connectors.fnac import (
    OFFER,
    SELLER,
    TO_ALL,
    TO_CALLCENTER,
    TO_CLIENT,
    FnacClient,
    FnacMessage,
    split_thread_id,
)
from parley_connectors.writing import Destination, ShopReply, same_text
from parley_schemas import ParticipantRole, utcnow

if TYPE_CHECKING:  # the pool is the connectors library's httpx; no import at run time
    import httpx

CLOCK_SKEW = timedelta(minutes=2)
ANSWER_SUFFIX = ":answer"  # the id ingest gives a seller answer shown inline


class FnacReplies:
    """``http`` shares a connection pool (tests pass the sandbox's in-process one)."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http

    def _client(self, destination: Destination) -> FnacClient:
        credentials = destination.credentials
        return FnacClient(
            destination.base_url,
            credentials["partner_id"],
            credentials["shop_id"],
            credentials["key"],
            http=self._http,
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
            # The responder sends Fnac files as download links in the text instead.
            raise BadRequest("Fnac's reply API carries no attachments")
        kind, referer = _conversation(thread_id)
        message_to = _message_to(to)
        started = utcnow()
        async with self._client(destination) as client:
            messages = await client.thread_messages(kind, referer)
            target = _reply_target(messages, thread_id)
            await client.reply(
                target.message_id,
                body,
                to=message_to,
                subject="product_information" if kind == OFFER else "order_information",
                message_type=kind,
            )
            try:
                after = await client.thread_messages(kind, referer)
            except MarketplaceError:
                return None
        return _find(after, body, started)

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        kind, referer = _conversation(thread_id)
        async with self._client(destination) as client:
            messages = await client.thread_messages(kind, referer)
        floor = since - CLOCK_SKEW
        replies = [
            ShopReply(message.message_id, message.description, message.created_at)
            for message in messages
            if (message.from_type or "").upper() == SELLER and message.created_at >= floor
        ]
        for message in messages:
            answered = message.answer_at or message.updated_at
            if not message.answer or answered < floor:
                continue
            # Fnac shows a reply both as a SELLER message and as the ``answer`` of the
            # message replied to: one reply, listed once.
            if any(
                same_text(r.body, message.answer) and abs(r.sent_at - answered) <= CLOCK_SKEW
                for r in replies
            ):
                continue
            replies.append(
                ShopReply(f"{message.message_id}{ANSWER_SUFFIX}", message.answer, answered)
            )
        return replies


def _conversation(thread_id: str) -> tuple[str, str]:
    try:
        return split_thread_id(thread_id)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _message_to(to: list[ParticipantRole]) -> str:
    wanted = set(to) or {ParticipantRole.CUSTOMER}
    refused = wanted - {ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}
    if refused:
        names = ", ".join(sorted(r.value for r in refused))
        raise BadRequest(f"Fnac cannot address a reply to: {names}")
    if wanted == {ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}:
        return TO_ALL
    return TO_CALLCENTER if ParticipantRole.OPERATOR in wanted else TO_CLIENT


def _reply_target(messages: list[FnacMessage], thread_id: str) -> FnacMessage:
    incoming = [m for m in messages if (m.from_type or "").upper() != SELLER]
    if not incoming:
        raise BadRequest(f"thread {thread_id} has no message from the buyer or Fnac to answer")
    return max(incoming, key=lambda m: (m.created_at, m.message_id))


def _find(messages: list[FnacMessage], body: str, since: datetime) -> str | None:
    floor = since - CLOCK_SKEW
    text = body.strip()
    for message in sorted(messages, key=lambda m: m.created_at, reverse=True):
        if (
            (message.from_type or "").upper() == SELLER
            and message.description.strip() == text
            and message.created_at >= floor
        ):
            return message.message_id
    for message in messages:
        answered = message.answer_at or message.updated_at
        if message.answer and message.answer.strip() == text and answered >= floor:
            return f"{message.message_id}{ANSWER_SUFFIX}"
    return None
