"""MongoDB adapter of :class:`~parley_responder.ports.DeliveryStore` (the outbox).

The record is written *before* the marketplace is called (``sending``) and after
it answered (``sent``). A crash between the two leaves ``sending`` behind, which
tells the next attempt to ask the marketplace first instead of sending blindly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.ports import Delivery
from parley_schemas import ReplyCommand, utcnow
from parley_store import DELIVERIES


class MongoDeliveryStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[DELIVERIES]

    async def open(self, command: ReplyCommand) -> tuple[Delivery, bool]:
        before = await self._col.find_one_and_update(
            {"_id": command.command_id},
            {
                "$setOnInsert": {
                    "state": "queued",
                    "attempts": 0,
                    "discussion_id": command.discussion_id,
                    "store_id": command.store_id,
                    "marketplace": command.marketplace,
                    "thread_id": command.thread_id,
                    "created_at": utcnow(),
                    "marketplace_message_id": None,
                    "error": None,
                    "sending_since": None,
                }
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        doc = await self._col.find_one({"_id": command.command_id})
        assert doc is not None
        return _delivery(doc), before is None

    async def mark_sending(self, command_id: str, attempt: int, at: datetime) -> None:
        await self._col.update_one(
            {"_id": command_id},
            {"$set": {"state": "sending", "attempts": attempt, "sending_since": at}},
        )

    async def mark_sent(self, command_id: str, marketplace_message_id: str | None) -> Delivery:
        return await self._final(
            command_id,
            {"state": "sent", "marketplace_message_id": marketplace_message_id, "error": None},
        )

    async def mark_failed(self, command_id: str, error: str) -> Delivery:
        return await self._final(command_id, {"state": "failed", "error": error})

    async def mark_retrying(self, command_id: str, error: str) -> None:
        await self._col.update_one(
            {"_id": command_id}, {"$set": {"state": "queued", "error": error}}
        )

    async def _final(self, command_id: str, fields: dict[str, Any]) -> Delivery:
        doc = await self._col.find_one_and_update(
            {"_id": command_id},
            {"$set": {**fields, "finished_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return _delivery(doc)


def _delivery(doc: dict[str, Any]) -> Delivery:
    return Delivery(
        command_id=str(doc["_id"]),
        state=doc["state"],
        attempts=int(doc.get("attempts", 0)),
        marketplace_message_id=doc.get("marketplace_message_id"),
        error=doc.get("error"),
        sending_since=doc.get("sending_since"),
    )
