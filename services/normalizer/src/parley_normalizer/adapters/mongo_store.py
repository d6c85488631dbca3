"""MongoDB adapter of :class:`~parley_normalizer.ports.DiscussionStore`.

Writes only the fields sync owns (see parley_store), with field-level updates:
``$setOnInsert`` for the workflow defaults of a new discussion, ``$set`` for the
synced fields. Message ids are deterministic, so re-processing a snapshot inserts
nothing twice. ``event_version`` counts the changes consumers must hear about and
``event_pending`` stays true until that version is on Kafka, so an event lost to a
crash is published on the next pass instead of being skipped.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from parley_normalizer.domain.threads import direction, preview, synced_fields
from parley_schemas import (
    DeliveryResult,
    DeliveryState,
    Direction,
    DiscussionKey,
    Participant,
    ParticipantRole,
    RawThreadSnapshot,
)
from parley_store import (
    DISCUSSIONS,
    MESSAGES,
    DiscussionDocument,
    DiscussionStatus,
    MessageDocument,
    inbound_message_id,
    outbound_message_id,
)

_STATE_RANK = {DeliveryState.QUEUED: 0, DeliveryState.FAILED: 1, DeliveryState.SENT: 2}


class MongoDiscussionStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._discussions = db[DISCUSSIONS]
        self._messages = db[MESSAGES]

    async def upsert_discussion(self, snapshot: RawThreadSnapshot) -> bool:
        key = DiscussionKey(
            store_id=snapshot.store_id,
            marketplace=snapshot.marketplace,
            thread_id=snapshot.thread_id,
        )
        synced = synced_fields(snapshot)
        result = await self._discussions.update_one(
            {"_id": key.discussion_id},
            {
                "$set": synced.fields,
                "$setOnInsert": {
                    "key": str(key),
                    "store_id": snapshot.store_id,
                    "marketplace": snapshot.marketplace,
                    "thread_id": snapshot.thread_id,
                    "created_at": synced.created_at,
                    "message_count": 0,
                    "status": DiscussionStatus.NEW.value,
                    "read": False,
                    "merchant_ticket_id": None,
                    "tags": [],
                    "created_event_published": False,
                },
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def get_discussion(self, discussion_id: str) -> DiscussionDocument | None:
        doc = await self._discussions.find_one({"_id": discussion_id})
        return DiscussionDocument.model_validate(doc) if doc else None

    async def add_synced_messages(self, snapshot: RawThreadSnapshot) -> list[MessageDocument]:
        discussion_id = DiscussionKey(
            store_id=snapshot.store_id,
            marketplace=snapshot.marketplace,
            thread_id=snapshot.thread_id,
        ).discussion_id
        ids = [m.marketplace_message_id for m in snapshot.messages]
        if not ids:
            return []
        # A reply sent through Parley comes back in the next sync under its marketplace
        # id: it is already recorded (with its command id), so it is not inserted again.
        known = {
            doc["marketplace_message_id"]
            async for doc in self._messages.find(
                {"discussion_id": discussion_id, "marketplace_message_id": {"$in": ids}},
                {"marketplace_message_id": 1},
            )
        }
        docs: dict[str, dict[str, Any]] = {}
        for message in snapshot.messages:
            if message.marketplace_message_id in known:
                continue
            message_id = inbound_message_id(discussion_id, message.marketplace_message_id)
            docs[message_id] = {
                "_id": message_id,
                "discussion_id": discussion_id,
                "direction": direction(message).value,
                "sender": message.sender.model_dump(mode="json"),
                "recipients": [r.value for r in message.recipients],
                "body": message.body,
                "sent_at": message.sent_at,
                "attachments": [a.model_dump(mode="json") for a in message.attachments],
                "marketplace_message_id": message.marketplace_message_id,
                "command_id": None,
                "delivery": None,
                "event_version": 1,
                "event_pending": True,
            }
        if not docs:
            return []
        result = await self._messages.bulk_write(
            [
                UpdateOne({"_id": mid}, {"$setOnInsert": doc}, upsert=True)
                for mid, doc in docs.items()
            ],
            ordered=False,
        )
        inserted = [docs[str(_id)] for _id in (result.upserted_ids or {}).values()]
        return [MessageDocument.model_validate(doc) for doc in inserted]

    async def mark_unread(self, discussion_id: str) -> None:
        await self._discussions.update_one({"_id": discussion_id}, {"$set": {"read": False}})

    async def record_delivery(self, result: DeliveryResult) -> MessageDocument | None:
        message_id = outbound_message_id(result.discussion_id, result.command_id)
        existing = await self._messages.find_one({"_id": message_id})
        if existing and existing.get("delivery"):
            current = DeliveryState(existing["delivery"]["state"])
            if _STATE_RANK[current] > _STATE_RANK[result.state]:
                return None
            if current is result.state and existing["delivery"].get("attempts") == result.attempts:
                return MessageDocument.model_validate(existing)
        if result.marketplace_message_id:
            # The next sync may have brought our reply back first: fold that copy in.
            await self._messages.delete_one(
                {
                    "discussion_id": result.discussion_id,
                    "marketplace_message_id": result.marketplace_message_id,
                    "command_id": None,
                }
            )
        delivery = {
            "state": result.state.value,
            "error": result.error,
            "attempts": result.attempts,
            "updated_at": result.occurred_at,
        }
        update: dict[str, Any] = {
            "$set": {"delivery": delivery, "event_pending": True},
            "$inc": {"event_version": 1},
            "$setOnInsert": {
                "discussion_id": result.discussion_id,
                "direction": Direction.OUTBOUND.value,
                "sender": Participant(role=ParticipantRole.MERCHANT).model_dump(mode="json"),
                "recipients": [r.value for r in result.recipients],
                "body": result.body,
                "sent_at": result.occurred_at,
                "attachments": [],
                "command_id": result.command_id,
            },
        }
        if result.marketplace_message_id:
            update["$set"]["marketplace_message_id"] = result.marketplace_message_id
        if result.state is DeliveryState.SENT:
            update["$set"]["sent_at"] = result.occurred_at
            del update["$setOnInsert"]["sent_at"]
        await self._messages.update_one({"_id": message_id}, update, upsert=True)
        doc = await self._messages.find_one({"_id": message_id})
        return MessageDocument.model_validate(doc) if doc else None

    async def refresh_summary(self, discussion_id: str) -> None:
        latest = await self._messages.find_one(
            {"discussion_id": discussion_id}, sort=[("sent_at", DESCENDING)]
        )
        count = await self._messages.count_documents({"discussion_id": discussion_id})
        fields: dict[str, Any] = {"message_count": count}
        if latest:
            fields["last_message_at"] = latest["sent_at"]
            fields["last_message_preview"] = preview(latest["body"])
        await self._discussions.update_one({"_id": discussion_id}, {"$set": fields})

    async def unpublished_messages(self, discussion_id: str) -> list[MessageDocument]:
        cursor = self._messages.find({"discussion_id": discussion_id, "event_pending": True}).sort(
            "sent_at", ASCENDING
        )
        return [MessageDocument.model_validate(doc) async for doc in cursor]

    async def mark_published(self, message_id: str, version: int) -> None:
        # Only if nothing changed meanwhile: a newer version stays pending.
        await self._messages.update_one(
            {"_id": message_id, "event_version": version},
            {"$set": {"event_pending": False}},
        )

    async def mark_created_published(self, discussion_id: str) -> None:
        await self._discussions.update_one(
            {"_id": discussion_id}, {"$set": {"created_event_published": True}}
        )
