"""The Mirakl family's write side: M12 replies, and M10 to reconcile after a crash;
OR74 files a reply's invoice on its order, and OR72 tells whether it is there.

M12 addresses recipients by party type and id, so the thread (M10) is read first to
find the customer's or operator's participant entry. The same read lists the SHOP
messages dated at or after a moment (less a clock-skew margin), from which
the responder's reconciliation tells whether *our* reply arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from parley_connectors.errors import BadRequest
from parley_connectors.files import OutgoingFile
from parley_connectors.http import DEFAULT_TIMEOUT
from parley_connectors.mirakl import (
    MiraklClient,
    MiraklParticipantType,
    MiraklRecipient,
    MiraklThread,
)
from parley_connectors.writing import Destination, ShopReply
from parley_schemas import ParticipantRole

if TYPE_CHECKING:  # the pool is the connectors library's httpx; no import at run time
    import httpx

_PARTY = {
    ParticipantRole.CUSTOMER: MiraklParticipantType.CUSTOMER,
    ParticipantRole.OPERATOR: MiraklParticipantType.OPERATOR,
}
CLOCK_SKEW = timedelta(minutes=2)


class MiraklReplies:
    """``http`` shares a connection pool (tests pass the sandbox's in-process one)."""

    def __init__(
        self, http: httpx.AsyncClient | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._http = http
        self._timeout = timeout

    def _client(self, destination: Destination) -> MiraklClient:
        shop_id = destination.options.get("shop_id")
        return MiraklClient(
            destination.base_url,
            destination.credentials["api_key"],
            shop_id=int(shop_id) if shop_id else None,
            http=self._http,
            timeout=self._timeout,
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
        async with self._client(destination) as client:
            thread = await client.get_thread(thread_id)
            recipients = [_recipient(thread, role) for role in to]
            result = await client.reply(thread_id, body, recipients, attachments)
            return result.message_id

    async def upload_order_document(
        self, destination: Destination, order_id: str, file: OutgoingFile, type_code: str
    ) -> None:
        async with self._client(destination) as client:
            result = await client.upload_order_documents(order_id, [(file, type_code)])
        reasons = result.errors_of(file.name)
        if reasons or result.errors_count:
            detail = "; ".join(reasons) or f"{result.errors_count} document(s) refused"
            raise BadRequest(f"Mirakl did not file {file.name} on order {order_id}: {detail}")

    async def has_order_document(
        self, destination: Destination, order_id: str, file_name: str
    ) -> bool:
        async with self._client(destination) as client:
            documents = await client.list_order_documents([order_id])
        return any(d.file_name == file_name and d.order_id in (None, order_id) for d in documents)

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        async with self._client(destination) as client:
            thread = await client.get_thread(thread_id)
        return [
            ShopReply(message.id, message.body, message.date_created)
            for message in thread.messages
            if message.sender.party == MiraklParticipantType.SHOP.value
            and message.date_created >= since - CLOCK_SKEW
        ]


def _recipient(thread: MiraklThread, role: ParticipantRole) -> MiraklRecipient:
    party = _PARTY.get(role)
    if party is None:
        raise BadRequest(f"Mirakl cannot address a reply to the {role.value}")
    for participant in thread.authorized_participants:
        if participant.type.upper() == party.value:
            return MiraklRecipient(type=party, id=participant.id)
    raise BadRequest(f"thread {thread.id} has no {role.value} to reply to")
