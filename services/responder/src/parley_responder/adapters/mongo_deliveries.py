"""MongoDB adapter of :class:`~parley_responder.ports.DeliveryStore` (the outbox).

The record is written *before* the marketplace is called (``sending``) and after
it answered (``sent``). A crash between the two leaves ``sending`` behind, which
tells the next attempt to ask the marketplace first instead of sending blindly.

The record also keeps the command itself (so the gateway can queue a merchant retry
of a failed delivery without the original record on Kafka), the prepared reply (the
body with its download links and the files sent natively, decided once), and the
merchant retry round it is in (``retry``, raised by the gateway from ``failed``).

:class:`MongoDeliveryQueue` keeps the replies accepted and not yet settled in a small
collection of its own, keyed by command id: the responder commits a command's Kafka
offset once it is there, and resumes what it holds after a restart (one read of the
whole, small collection at start; every other access is by ``_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.domain.attachments import LinkedFile, ReplyFile
from parley_responder.ports import Delivery, PreparedReply
from parley_schemas import ReplyCommand, utcnow
from parley_store import DELIVERIES

DELIVERY_QUEUE = "delivery_queue"  # the responder's own: accepted, not yet settled


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
                    "command": command.model_dump(mode="json"),
                    "retry": 0,
                    "prepared": None,
                    "unsure_since": None,
                    "known_ids": None,
                    "next_attempt_at": None,
                }
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        doc = await self._col.find_one({"_id": command.command_id})
        assert doc is not None
        return _delivery(doc), before is None

    async def mark_sending(
        self, command_id: str, attempt: int, at: datetime, known_ids: frozenset[str] | None
    ) -> None:
        await self._col.update_one(
            {"_id": command_id},
            {
                "$set": {
                    "state": "sending",
                    "attempts": attempt,
                    "sending_since": at,
                    "known_ids": None if known_ids is None else sorted(known_ids),
                    "next_attempt_at": None,
                }
            },
        )

    async def mark_unknown(self, command_id: str, reason: str, unsure_since: datetime) -> Delivery:
        return await self._final(
            command_id, {"state": "unknown", "error": reason, "unsure_since": unsure_since}
        )

    async def mark_sent(self, command_id: str, marketplace_message_id: str | None) -> Delivery:
        return await self._final(
            command_id,
            {
                "state": "sent",
                "marketplace_message_id": marketplace_message_id,
                "error": None,
                "unsure_since": None,
            },
        )

    async def mark_failed(
        self, command_id: str, error: str, unsure_since: datetime | None = None
    ) -> Delivery:
        return await self._final(
            command_id, {"state": "failed", "error": error, "unsure_since": unsure_since}
        )

    async def save_prepared(self, command_id: str, prepared: PreparedReply) -> PreparedReply:
        # Conditional, so two workers preparing at once keep one version: the first.
        await self._col.update_one(
            {
                "_id": command_id,
                "$or": [{"prepared": None}, {"prepared.retry": {"$lt": prepared.retry}}],
            },
            {"$set": {"prepared": _prepared_doc(prepared)}},
        )
        doc = await self._col.find_one({"_id": command_id}, {"prepared": 1})
        kept = _prepared(doc.get("prepared") if doc else None)
        return kept or prepared

    async def mark_retrying(
        self,
        command_id: str,
        error: str,
        *,
        attempts: int,
        next_attempt_at: datetime | None,
        sending: bool,
    ) -> None:
        fields: dict[str, Any] = {
            "error": error,
            "attempts": attempts,
            "next_attempt_at": next_attempt_at,
        }
        if not sending:
            fields["state"] = "queued"
        await self._col.update_one({"_id": command_id}, {"$set": fields})

    async def _final(self, command_id: str, fields: dict[str, Any]) -> Delivery:
        doc = await self._col.find_one_and_update(
            {"_id": command_id},
            {"$set": {**fields, "next_attempt_at": None, "finished_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return _delivery(doc)


class MongoDeliveryQueue:
    """:class:`~parley_responder.ports.DeliveryQueue` on MongoDB."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._deliveries = MongoDeliveryStore(db)
        self._col = db[DELIVERY_QUEUE]

    async def add(self, command: ReplyCommand) -> None:
        await self._deliveries.open(command)
        # The command as received: a merchant retry carries its round (``retry``).
        await self._col.update_one(
            {"_id": command.command_id},
            {
                "$set": {"command": command.model_dump(mode="json")},
                "$setOnInsert": {"queued_at": utcnow()},
            },
            upsert=True,
        )

    async def remove(self, command: ReplyCommand) -> None:
        # Only this round: a merchant retry queued meanwhile stays.
        await self._col.delete_one({"_id": command.command_id, "command.retry": command.retry})

    async def claim(self, command_id: str, owner: str, now: datetime, until: datetime) -> bool:
        result = await self._col.update_one(
            {
                "_id": command_id,
                "$or": [
                    {"lease_owner": owner},
                    {"lease_until": None},
                    {"lease_until": {"$lt": now}},
                ],
            },
            {"$set": {"lease_owner": owner, "lease_until": until}},
        )
        return result.matched_count == 1

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many replies wait in the queue, and since when the oldest (metrics):
        two small reads, the queue holding only replies not settled yet."""
        count = await self._col.count_documents({})
        oldest = None
        async for doc in self._col.find({}, {"queued_at": 1}).sort("queued_at", 1).limit(1):
            oldest = doc.get("queued_at")
        return count, oldest

    async def pending(self) -> list[ReplyCommand]:
        docs = [doc async for doc in self._col.find({})]
        docs.sort(key=lambda d: (str(d.get("queued_at")), str(d["_id"])))
        return [ReplyCommand.model_validate(d["command"]) for d in docs]


def _delivery(doc: dict[str, Any]) -> Delivery:
    return Delivery(
        command_id=str(doc["_id"]),
        state=doc["state"],
        attempts=int(doc.get("attempts", 0)),
        marketplace_message_id=doc.get("marketplace_message_id"),
        error=doc.get("error"),
        sending_since=doc.get("sending_since"),
        retry=int(doc.get("retry") or 0),
        prepared=_prepared(doc.get("prepared")),
        unsure_since=doc.get("unsure_since"),
        known_ids=None if doc.get("known_ids") is None else frozenset(doc["known_ids"]),
        next_attempt_at=doc.get("next_attempt_at"),
    )


def _file_doc(file: ReplyFile) -> dict[str, Any]:
    return {
        "file_id": file.file_id,
        "name": file.name,
        "content_type": file.content_type,
        "size": file.size,
    }


def _file(doc: dict[str, Any]) -> ReplyFile:
    return ReplyFile(
        file_id=str(doc["file_id"]),
        name=str(doc["name"]),
        content_type=str(doc["content_type"]),
        size=int(doc["size"]),
    )


def _prepared_doc(prepared: PreparedReply) -> dict[str, Any]:
    return {
        "body": prepared.body,
        "retry": prepared.retry,
        "native": [_file_doc(f) for f in prepared.native],
        "native_bytes": prepared.native_bytes,
        "linked": [{"file": _file_doc(x.file), "reason": x.reason} for x in prepared.linked],
    }


def _prepared(doc: dict[str, Any] | None) -> PreparedReply | None:
    if not doc:
        return None
    return PreparedReply(
        body=str(doc["body"]),
        native=tuple(_file(f) for f in doc.get("native") or []),
        linked=tuple(
            LinkedFile(_file(x["file"]), str(x["reason"])) for x in doc.get("linked") or []
        ),
        retry=int(doc.get("retry") or 0),
    )
