"""The responder's delivery records, as the gateway touches them: a merchant retry.

The responder owns the record's life cycle (queued → sending → sent | failed | unknown).
The one move the gateway makes is the merchant's retry, ``failed``/``unknown`` →
``queued``, and only as a conditional update on those states: of two retries racing,
or a retry racing anything else, at most one wins, and a delivery that is sent or under
way can never be re-queued, so a retry never becomes a second reply.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.ports import FailedDelivery
from parley_schemas import ReplyCommand, utcnow
from parley_store import DELIVERIES


class MongoDeliveryOutbox:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[DELIVERIES]

    async def requeue_failed(self, discussion_id: str, command_id: str) -> FailedDelivery | None:
        before = await self._col.find_one_and_update(
            {
                "_id": command_id,
                "discussion_id": discussion_id,
                "state": {"$in": ["failed", "unknown"]},
                "command": {"$ne": None},
            },
            {
                # attempts back to 0: the responder announces the round as queued and
                # gives it a whole retry budget. After a failure ``unsure_since`` and
                # ``prepared`` stay: the responder needs them to look for a reply that may
                # have landed. After ``unknown`` the marketplace could not tell: the
                # merchant decided it did not arrive, so it is sent again.
                "$set": {"state": "queued", "attempts": 0, "retried_at": utcnow()},
                "$inc": {"retry": 1},
            },
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return None
        if before["state"] == "unknown":
            await self._col.update_one(
                {"_id": command_id, "state": "queued"},
                {"$set": {"unsure_since": None, "known_ids": None, "sending_since": None}},
            )
        retry = int(before.get("retry") or 0) + 1
        command = ReplyCommand.model_validate(before["command"])
        return FailedDelivery(
            command=command.model_copy(update={"retry": retry}),
            retry=retry,
            error=before.get("error"),
            state=str(before["state"]),
        )

    async def undo_requeue(
        self, command_id: str, retry: int, error: str | None, state: str = "failed"
    ) -> None:
        await self._col.update_one(
            {"_id": command_id, "state": "queued", "retry": retry, "attempts": 0},
            {"$set": {"state": state, "error": error}},
        )

    async def state_of(self, discussion_id: str, command_id: str) -> str | None:
        doc = await self._col.find_one(
            {"_id": command_id, "discussion_id": discussion_id}, {"state": 1}
        )
        return str(doc["state"]) if doc else None
