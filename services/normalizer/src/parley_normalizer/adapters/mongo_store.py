"""MongoDB adapter of :class:`~parley_normalizer.ports.DiscussionStore`.

Writes only the fields sync owns (see parley_store), with field-level updates:
``$setOnInsert`` for the workflow defaults of a new discussion, ``$set`` for the
synced fields. Message ids are deterministic, so re-processing a snapshot inserts
nothing twice. ``event_version`` counts the changes consumers must hear about and
``event_pending`` stays true until that version is on Kafka, so an event lost to a
crash is published on the next pass instead of being skipped.

Customers (F8) have deterministic ids, so creating one is an upsert that two workers
may race on without duplicating it; linking a discussion to its customer only fills
an empty ``customer_id``, so a discussion's customer is never reassigned. That
conditional update is not atomic on FerretDB, which is fine: one discussion's records
are processed one at a time.

Pending events are also marked per discussion in a small collection of their own
(``pending_events``, ``_id`` the discussion id, ``touched`` when last marked), written
before the record's writes and removed once its events are out. A crash between the
write and the publish leaves the mark, and the sweeper finds it by ``touched`` (an
indexed range on MongoDB; on FerretDB a scan of a collection that holds only the
discussions in flight), instead of scanning every message for ``event_pending``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parley_normalizer.domain.alerts import AlertDiscussion
from parley_normalizer.domain.retention import Retention
from parley_normalizer.domain.threads import direction, preview, synced_fields
from parley_schemas import (
    DeliveryResult,
    DeliveryState,
    Direction,
    DiscussionKey,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import (
    CUSTOMERS,
    DISCUSSIONS,
    MESSAGES,
    DiscussionDocument,
    DiscussionStatus,
    MessageDocument,
    customer_id_for,
    inbound_message_id,
    outbound_message_id,
)

_STATE_RANK = {DeliveryState.QUEUED: 0, DeliveryState.FAILED: 1, DeliveryState.SENT: 2}
PENDING_EVENTS = "pending_events"


def _millis(at: datetime) -> datetime:
    """``at`` as MongoDB stores it (milliseconds), so an equality filter on it matches."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def ensure_pending_index(db: AsyncDatabase[Any]) -> None:
    """The sweeper asks for marks older than a moment: a range on ``touched``."""
    await db[PENDING_EVENTS].create_index([("touched", ASCENDING)], name="touched")


def _new_discussion(created_at: datetime, tags: Sequence[str] = ()) -> dict[str, Any]:
    """What a discussion starts with besides its synced fields: the workflow defaults."""
    return {
        "created_at": created_at,
        "message_count": 0,
        "status": DiscussionStatus.NEW.value,
        "read": False,
        "merchant_ticket_id": None,
        "tags": list(tags),
        "customer_id": None,
        "created_event_published": False,
    }


async def write_retention(
    discussions: AsyncCollection[Any], discussion_id: str, retention: Retention
) -> None:
    """Stores a retention review, unless the status moved on meanwhile (then the next
    write or sweep reviews it again with the new status)."""
    await discussions.update_one(
        {"_id": discussion_id, "status": retention.status.value},
        {
            "$set": {
                "expires_at": retention.expires_at,
                "retention_status": retention.status.value,
                "retention_status_since": retention.status_since,
            }
        },
    )


class MongoDiscussionStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._discussions = db[DISCUSSIONS]
        self._messages = db[MESSAGES]
        self._customers = db[CUSTOMERS]
        self._pending = db[PENDING_EVENTS]

    async def mark_pending(self, discussion_id: str, at: datetime) -> None:
        await self._pending.update_one(
            {"_id": discussion_id}, {"$set": {"touched": _millis(at)}}, upsert=True
        )

    async def clear_pending(self, discussion_id: str, marked: datetime) -> None:
        # Only the mark this pass made: one renewed since belongs to a later record.
        await self._pending.delete_one({"_id": discussion_id, "touched": _millis(marked)})

    async def stale_pending(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        cursor = self._pending.find({"touched": {"$lt": before}}).limit(limit)
        return [(str(doc["_id"]), doc["touched"]) async for doc in cursor]

    async def claim_pending(self, discussion_id: str, marked: datetime, at: datetime) -> bool:
        result = await self._pending.update_one(
            {"_id": discussion_id, "touched": _millis(marked)},
            {"$set": {"touched": _millis(at)}},
        )
        return result.modified_count == 1

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
                    **_new_discussion(synced.created_at),
                },
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def open_discussion(self, opened: AlertDiscussion) -> bool:
        # Everything on insert only: a replayed alert changes nothing, and what people
        # did with the draft since (tags, status) stays theirs.
        result = await self._discussions.update_one(
            {"_id": opened.discussion_id},
            {"$setOnInsert": {**opened.fields, **_new_discussion(opened.created_at, opened.tags)}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def get_discussion(self, discussion_id: str) -> DiscussionDocument | None:
        doc = await self._discussions.find_one({"_id": discussion_id})
        return DiscussionDocument.model_validate(doc) if doc else None

    async def add_synced_messages(self, snapshot: RawThreadSnapshot) -> list[MessageDocument]:
        return await self.add_messages(snapshot.key.discussion_id, snapshot.messages)

    async def add_messages(
        self, discussion_id: str, messages: Sequence[RawMessage]
    ) -> list[MessageDocument]:
        ids = [m.marketplace_message_id for m in messages]
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
        for message in messages:
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
            # A merchant retry (higher ``retry``) starts over from queued, failure included;
            # within one round, states only move forward.
            current_rank = (int(existing["delivery"].get("retry") or 0), _STATE_RANK[current])
            if current_rank > (result.retry, _STATE_RANK[result.state]):
                return None
            if (
                current_rank == (result.retry, _STATE_RANK[result.state])
                and existing["delivery"].get("attempts") == result.attempts
            ):
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
            "unconfirmed": result.unconfirmed,
            "attempts": result.attempts,
            "next_attempt_at": result.next_attempt_at,
            "updated_at": result.occurred_at,
            "retry": result.retry,
        }
        update: dict[str, Any] = {
            # The body as sent (download links appended) and the reply's files.
            "$set": {
                "delivery": delivery,
                "event_pending": True,
                "body": result.body,
                "attachments": [a.model_dump(mode="json") for a in result.attachments],
            },
            "$inc": {"event_version": 1},
            "$setOnInsert": {
                "discussion_id": result.discussion_id,
                "direction": Direction.OUTBOUND.value,
                "sender": Participant(role=ParticipantRole.MERCHANT).model_dump(mode="json"),
                "recipients": [r.value for r in result.recipients],
                "sent_at": result.occurred_at,
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

    async def refresh_summary(self, discussion_id: str) -> DiscussionDocument | None:
        latest = await self._messages.find_one(
            {"discussion_id": discussion_id}, sort=[("sent_at", DESCENDING)]
        )
        count = await self._messages.count_documents({"discussion_id": discussion_id})
        fields: dict[str, Any] = {"message_count": count}
        if latest:
            fields["last_message_at"] = latest["sent_at"]
            fields["last_message_preview"] = preview(latest["body"])
        doc = await self._discussions.find_one_and_update(
            {"_id": discussion_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return DiscussionDocument.model_validate(doc) if doc else None

    async def ensure_customer(
        self, store_id: str, marketplace: str, person: Participant, now: datetime
    ) -> str:
        marketplace_customer_id = (person.marketplace_id or "").strip()
        if not marketplace_customer_id:
            raise ValueError("a customer needs the marketplace's customer id")
        customer_id = customer_id_for(store_id, marketplace, marketplace_customer_id)
        # Another worker may create this very customer at the same moment: same id, so
        # the loser's insert fails as a duplicate and the customer exists either way.
        with contextlib.suppress(DuplicateKeyError):
            await self._customers.update_one(
                {"_id": customer_id},
                {
                    "$setOnInsert": {
                        "store_id": store_id,
                        "marketplace": marketplace,
                        "marketplace_customer_id": marketplace_customer_id,
                        "name": person.name,
                        "email": person.email,
                        "created_at": now,
                    }
                },
                upsert=True,
            )
        return customer_id

    async def link_customer(self, discussion_id: str, customer_id: str) -> bool:
        result = await self._discussions.update_one(
            {"_id": discussion_id, "customer_id": None}, {"$set": {"customer_id": customer_id}}
        )
        return result.modified_count > 0

    async def set_retention(self, discussion_id: str, retention: Retention) -> None:
        await write_retention(self._discussions, discussion_id, retention)

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
