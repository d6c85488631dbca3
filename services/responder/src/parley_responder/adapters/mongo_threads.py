"""A discussion's messages, read by ``_id``: what the responder knows of a thread.

The normalizer writes the discussions and their messages; the responder reads them
(the autoresponder's "is this the buyer's first message", the email relay's threading
headers, the attachment bytes a conversation already carries). Asking ``messages`` for
``discussion_id`` (sorted) costs a scan of every message ever stored on FerretDB v1,
which pushes down only ``{_id: value}``; so the responder reads the discussion by
``_id`` and then each of its messages by ``_id``.

Which messages: the discussion's ``message_ids``, the Parley ids of its messages
(:func:`parley_store.inbound_message_id` / :func:`~parley_store.outbound_message_id`),
kept by the normalizer as it stores them. A discussion written before that field
existed has none: its messages are then found by ``discussion_id`` once, the old way
(the project has no production data; nothing writes such discussions any more).
Order is not taken from the list: callers sort by ``sent_at`` (then ``_id``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_connectors.writing import chronological as chronological
from parley_store import DISCUSSIONS, MESSAGES

MESSAGE_IDS = "message_ids"  # on a discussion: its messages' Parley ids (normalizer's)


class MongoThreadReader:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._discussions = db[DISCUSSIONS]
        self._messages = db[MESSAGES]

    async def discussion(self, discussion_id: str) -> dict[str, Any] | None:
        return await self._discussions.find_one({"_id": discussion_id})

    async def messages(
        self,
        discussion: dict[str, Any],
        projection: dict[str, int] | None = None,
        *,
        newest: int | None = None,
    ) -> list[dict[str, Any]]:
        """The discussion's messages (all, or the ``newest`` stored last), unordered."""
        ids = discussion.get(MESSAGE_IDS)
        if ids is None:  # a discussion from before message_ids (module docstring)
            cursor = self._messages.find({"discussion_id": discussion["_id"]}, projection)
            return [doc async for doc in cursor]
        wanted = [str(i) for i in dict.fromkeys(ids)]
        if newest is not None:
            wanted = wanted[-newest:]
        found = await asyncio.gather(
            *(self._messages.find_one({"_id": mid}, projection) for mid in wanted)
        )
        return [doc for doc in found if doc is not None]
