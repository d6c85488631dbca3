"""The fake family's writer: a reply becomes a shop message in the fake marketplace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from parley_connectors.errors import BadRequest
from parley_connectors.files import OutgoingFile
from parley_connectors.writing import Destination, ShopReply
from parley_schemas import ParticipantRole, utcnow

from .marketplace import MARKETPLACE, FakeMessage


class FakeWriter:
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
        thread = MARKETPLACE.threads.get(destination.credentials["shop"], {}).get(thread_id)
        if thread is None:
            raise BadRequest(f"no thread {thread_id}")
        message = FakeMessage(f"m-{uuid.uuid4().hex[:8]}", "shop", body, utcnow())
        thread.messages.append(message)
        return message.id

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        thread = MARKETPLACE.threads.get(destination.credentials["shop"], {}).get(thread_id)
        messages = thread.messages if thread is not None else []
        return [
            ShopReply(m.id, m.text, m.at) for m in messages if m.author == "shop" and m.at >= since
        ]
