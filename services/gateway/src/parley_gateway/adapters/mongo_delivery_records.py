"""The responder's delivery records, read by the gateway (never written: the responder
owns them, see parley_store.collections.OWNERS). One read by ``_id``."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.ports import DeliveryRecord
from parley_schemas import ReplyCommand
from parley_store import DELIVERIES


class MongoDeliveryRecords:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[DELIVERIES]

    async def find(self, discussion_id: str, command_id: str) -> DeliveryRecord | None:
        doc = await self._col.find_one(
            {"_id": command_id}, {"state": 1, "retry": 1, "command": 1, "discussion_id": 1}
        )
        if doc is None or doc.get("discussion_id") != discussion_id:
            return None
        kept = doc.get("command")
        return DeliveryRecord(
            state=str(doc["state"]),
            retry=int(doc.get("retry") or 0),
            command=ReplyCommand.model_validate(kept) if kept else None,
        )
