"""MongoDB adapter of :class:`~parley_responder.ports.DeliveryStore` (the outbox).

The record is written *before* the marketplace is called (``sending``) and after
it answered (``sent``). A crash between the two leaves ``sending`` behind, which
tells the next attempt to ask the marketplace first instead of sending blindly.

The record also keeps the command itself (so the gateway can ask for a merchant retry
of a failed delivery without the original record on Kafka), the prepared reply (the
body with its download links and the files sent natively, decided once), and the
merchant retry round it is in (``retry``). The responder is the records' only writer:
a merchant retry arrives as the same command with ``retry`` raised, and
:meth:`MongoDeliveryStore.begin_round` moves the record into that round, from
``failed``/``unknown`` only, with one conditional write (see its docstring).

:class:`MongoDeliveryQueue` keeps the replies accepted and not yet settled in a small
collection of its own, keyed by command id (a batch of first rounds: one unordered
insert of records and one of entries, :meth:`MongoDeliveryQueue.add_new`): the
responder commits a command's Kafka offset once it is there, and resumes what it
holds after a restart (one read of the whole, small collection at start, and the
backlog gauge at a metrics scrape; every other access is by ``_id``). Its lease
(``claim``) and ``remove`` add a guard to the ``_id`` (the lease's owner or expiry,
the merchant retry round), atomic on MongoDB; on FerretDB v1/SQLite, which pushes
down only an exact ``{_id: value}``, the guard costs a read of the queue, which holds
only replies not settled yet.

Where the reply's invoice is also filed on its order (Mirakl OR74), the record keeps
how that went in ``order_document`` (``uploading`` before the call, then
``uploaded``/``failed``/``skipped``): once per command, whatever the rounds.

Every record of the outbox is read and written by ``_id``: the delivery by command id,
its prepared reply per round in ``prepared_replies`` (``<retry>:<command id>``), what it
sent natively in the conversation's ``conversation_usage`` (see :mod:`.mongo_usage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from parley_responder.adapters.mongo_usage import record_sent
from parley_responder.domain.attachments import LinkedFile, ReplyFile
from parley_responder.ports import Delivery, OrderDocumentRecord, PreparedReply
from parley_schemas import ReplyCommand, utcnow
from parley_store import DELIVERIES

DELIVERY_QUEUE = "delivery_queue"  # the responder's own: accepted, not yet settled
PREPARED_REPLIES = "prepared_replies"  # _id: prepared_round_id(); the first version kept


def prepared_round_id(command_id: str, retry: int) -> str:
    """The ``_id`` of a command's prepared reply for one merchant retry round: the
    round number first (digits, no ``:``), so no two (command, round) pairs share one."""
    return f"{retry}:{command_id}"


class MongoDeliveryStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[DELIVERIES]
        self._prepared = db[PREPARED_REPLIES]

    @property
    def collection(self) -> AsyncCollection[Any]:
        return self._col

    async def open(self, command: ReplyCommand) -> tuple[Delivery, bool]:
        before = await self._col.find_one_and_update(
            {"_id": command.command_id},
            {"$setOnInsert": _new_delivery(command, utcnow())},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        doc = await self._col.find_one({"_id": command.command_id})
        assert doc is not None
        return _delivery(doc), before is None

    async def begin_round(self, command: ReplyCommand) -> bool:
        """Moves the record into merchant retry round ``command.retry`` (> 0): from
        ``failed`` or ``unknown`` in the round before, and only from there, with one
        conditional write each, so of racing or repeated requests at most one moves it,
        and a delivery that is sent or under way never starts a round (never a second
        reply). True when the record is in that round now (moved here, or by an
        earlier copy of this command that a crash kept from being queued); False for
        a request that is stale (the round moved on) or not retryable (nothing queued).

        attempts back to 0: the round gets a whole retry budget. After ``failed``,
        ``unsure_since`` and ``prepared`` stay: a failure that may have landed is
        looked for before sending. After ``unknown`` the marketplace could not tell:
        the merchant decided it did not arrive, so it is sent again.
        """
        moved = {"state": "queued", "attempts": 0, "retry": command.retry, "retried_at": utcnow()}
        forget_attempt = {"unsure_since": None, "known_ids": None, "sending_since": None}
        for state, extra in (("failed", {}), ("unknown", forget_attempt)):
            result = await self._col.update_one(
                {"_id": command.command_id, "state": state, "retry": command.retry - 1},
                {"$set": {**moved, **extra}},
            )
            if result.modified_count == 1:
                return True
        doc = await self._col.find_one({"_id": command.command_id}, {"retry": 1})
        return doc is not None and int(doc.get("retry") or 0) == command.retry

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
        # Its native files count in the conversation's usage first: a crash in between
        # counts a reply whose record is not sent yet (it was: the marketplace took it).
        doc = await self._col.find_one({"_id": command_id}, {"discussion_id": 1, "prepared": 1})
        native = int(((doc or {}).get("prepared") or {}).get("native_bytes") or 0)
        if doc is not None and native and doc.get("discussion_id"):
            await record_sent(self._col.database, str(doc["discussion_id"]), command_id, native)
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
        # Two workers preparing one round at once keep one version, the first: the
        # round's document in ``prepared_replies`` (``_id`` "<retry>:<command id>")
        # is inserted once, on MongoDB and FerretDB alike, and by ``_id`` (a guarded
        # update of the delivery would scan every delivery on FerretDB/SQLite).
        # A later round's version is never replaced by an older round's (a stale worker).
        record = await self._col.find_one({"_id": command_id}, {"prepared": 1})
        current = _prepared(record.get("prepared") if record else None)
        if current is not None and current.retry > prepared.retry:
            return current
        round_id = prepared_round_id(command_id, prepared.retry)
        try:
            await self._prepared.insert_one({"_id": round_id, "prepared": _prepared_doc(prepared)})
            kept = prepared
        except DuplicateKeyError:
            doc = await self._prepared.find_one({"_id": round_id})
            kept = _prepared(doc.get("prepared") if doc else None) or prepared
        # The record shows the round's version (the gateway and a resumed reply read it).
        await self._col.update_one({"_id": command_id}, {"$set": {"prepared": _prepared_doc(kept)}})
        return kept

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

    async def mark_order_document(self, command_id: str, record: OrderDocumentRecord) -> Delivery:
        doc = await self._col.find_one_and_update(
            {"_id": command_id},
            {"$set": {"order_document": _order_document_doc(record)}},
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return _delivery(doc)

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

    async def add(self, command: ReplyCommand) -> bool:
        if command.retry > 0 and not await self._deliveries.begin_round(command):
            return False
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
        return True

    async def add_new(self, commands: Sequence[ReplyCommand]) -> None:
        """First rounds in bulk: the delivery records and the queue entries are each
        inserted in one unordered command (far cheaper than upserts on FerretDB). A
        record that exists already is left as it is (:meth:`MongoDeliveryStore.open`
        creates it once); a queue entry that exists gets the command as received, as
        :meth:`add` does."""
        if not commands:
            return
        if any(c.retry for c in commands):
            raise ValueError("a merchant retry begins its round on its own (add)")
        now = utcnow()
        await _insert_missing(
            self._deliveries.collection,
            [{"_id": c.command_id, **_new_delivery(c, now)} for c in commands],
        )
        entries = [
            {"_id": c.command_id, "command": c.model_dump(mode="json"), "queued_at": now}
            for c in commands
        ]
        existing = await _insert_missing(self._col, entries)
        for start in range(0, len(existing), _UPDATE_CHUNK):
            await self._col.bulk_write(
                [
                    UpdateOne({"_id": doc["_id"]}, {"$set": {"command": doc["command"]}})
                    for doc in existing[start : start + _UPDATE_CHUNK]
                ],
                ordered=False,
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


_DUPLICATE_KEY = 11000
# Updates per bulk command: FerretDB v1 (SQLite) hangs on one of ~100 updates that
# match stored documents (see the normalizer's store adapter).
_UPDATE_CHUNK = 32


async def _insert_missing(
    collection: AsyncCollection[Any], docs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Inserts the documents in one unordered command; returns those that existed
    already (duplicate key), which are left as they are."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if exc.details.get("writeConcernErrors") or any(
            e.get("code") != _DUPLICATE_KEY for e in errors
        ):
            raise
        return [docs[int(e["index"])] for e in errors]
    return []


def _new_delivery(command: ReplyCommand, now: datetime) -> dict[str, Any]:
    """A delivery record's fields (all but ``_id``, the command id) as
    :meth:`MongoDeliveryStore.open` and :meth:`MongoDeliveryQueue.add_new` create it."""
    return {
        "state": "queued",
        "attempts": 0,
        "discussion_id": command.discussion_id,
        "store_id": command.store_id,
        "marketplace": command.marketplace,
        "thread_id": command.thread_id,
        "created_at": now,
        "marketplace_message_id": None,
        "error": None,
        "sending_since": None,
        "command": command.model_dump(mode="json"),
        "retry": 0,
        "prepared": None,
        "unsure_since": None,
        "known_ids": None,
        "next_attempt_at": None,
        "order_document": None,
    }


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
        order_document=_order_document(doc.get("order_document")),
    )


def _order_document_doc(record: OrderDocumentRecord) -> dict[str, Any]:
    return {
        "state": record.state,
        "order_id": record.order_id,
        "file_id": record.file_id,
        "file_name": record.file_name,
        "detail": record.detail,
        "at": utcnow(),
    }


def _order_document(doc: dict[str, Any] | None) -> OrderDocumentRecord | None:
    if not doc:
        return None
    return OrderDocumentRecord(
        state=str(doc["state"]),
        order_id=str(doc["order_id"]),
        file_id=str(doc["file_id"]),
        file_name=str(doc.get("file_name") or ""),
        detail=doc.get("detail"),
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
