"""MongoDB adapters of the autoresponder: the discussions it reads, and its copy log.

The discussions and messages are the normalizer's (read-only here); the outbox
record is the reply path's own (``deliveries``). The copy log (``autoresponse_copies``)
is keyed by the autoresponse's command id, so it holds one entry per autoresponse.
Every read is by ``_id``: a thread's messages through :mod:`.mongo_threads`.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.adapters.mongo_threads import MongoThreadReader, chronological
from parley_responder.ports import Delivery
from parley_schemas import utcnow
from parley_store import DELIVERIES, DiscussionDocument, MessageDocument

AUTORESPONSE_COPIES = "autoresponse_copies"


class MongoConversationReader:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._threads = MongoThreadReader(db)
        self._deliveries = db[DELIVERIES]

    async def discussion(self, discussion_id: str) -> DiscussionDocument | None:
        doc = await self._threads.discussion(discussion_id)
        return DiscussionDocument.model_validate(doc) if doc else None

    async def messages(self, discussion_id: str) -> list[MessageDocument]:
        """Oldest first."""
        discussion = await self._threads.discussion(discussion_id)
        if discussion is None:
            return []
        docs = chronological(await self._threads.messages(discussion))
        return [MessageDocument.model_validate(doc) for doc in docs]

    async def delivery(self, command_id: str) -> Delivery | None:
        doc = await self._deliveries.find_one({"_id": command_id})
        if doc is None:
            return None
        return Delivery(
            command_id=command_id,
            state=doc["state"],
            attempts=int(doc.get("attempts", 0)),
            marketplace_message_id=doc.get("marketplace_message_id"),
            error=doc.get("error"),
            sending_since=doc.get("sending_since"),
        )


class MongoNotificationLog:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[AUTORESPONSE_COPIES]

    async def notified(self, command_id: str) -> bool:
        return await self._col.find_one({"_id": command_id}, projection={"_id": 1}) is not None

    async def record(self, command_id: str, discussion_id: str, recipients: list[str]) -> None:
        await self._col.update_one(
            {"_id": command_id},
            {
                "$setOnInsert": {
                    "discussion_id": discussion_id,
                    "recipients": recipients,
                    "sent_at": utcnow(),
                }
            },
            upsert=True,
        )
