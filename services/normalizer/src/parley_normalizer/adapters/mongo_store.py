"""MongoDB adapter of :class:`~parley_normalizer.ports.DiscussionStore`.

Every read and write on the record path names one document by ``_id`` (the one shape
FerretDB v1 pushes down, and MongoDB's cheapest), many per round trip: a batch's
discussions are read once, and its customers, messages and discussions are each
written with one unordered ``bulk_write``. Ids come from natural keys (discussion
from its key, message from discussion + marketplace message id or command id,
customer from store + marketplace + customer id), so a write repeated after a crash
lands on the same document. What the batch's read did not find is inserted (far
cheaper than an upsert on FerretDB; a duplicate key means it exists after all, and
the insert is ignored or becomes the update); what it found gets ``$set`` of the
normalizer's own fields (see parley_store for field ownership: the gateway's
workflow fields are written on creation only, and ``read`` when a buyer writes).

Reading many documents by ``_id``: ``{_id: {$in: [...]}}`` is one round trip, but
FerretDB answers it by scanning the collection; one ``find_one`` per id is pushed
down, and concurrent ones overlap. :class:`MongoDiscussionStore` takes either
(``by_id_reads``), chosen by measurement (see the normalizer's settings).

Discussions stored before this bookkeeping existed (no ``message_ids``) are migrated
when first read: one query of their messages by ``discussion_id``, once per such
discussion, since the batch's write stores the result.

The events a batch must publish are its discussions' pending marks, in a small
collection of their own (``pending_events``: ``_id`` the discussion id, ``events``
the entries, ``touched`` when last marked), written before the discussions and
removed once the events are out. A crash in between leaves the mark: the batch run
again reads it by ``_id``, and the sweeper finds a mark whose batch was committed
anyway by ``touched`` (an indexed range on MongoDB; on FerretDB a scan of a
collection that holds only the discussions in flight), off the record path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from parley_normalizer.domain.retention import Retention
from parley_normalizer.domain.state import (
    FOLDED_IDS,
    LEGACY_PENDING,
    MESSAGE_IDS,
    Draft,
    event_entry,
)
from parley_store import CUSTOMERS, DISCUSSIONS, MESSAGES, inbound_message_id

PENDING_EVENTS = "pending_events"
BY_ID_READS = ("each", "in")
# Safe on FerretDB v1 (see _bulk); on MongoDB, larger chunks save round trips.
DEFAULT_WRITE_CHUNK = 32
DEFAULT_READ_CONCURRENCY = 32
_DUPLICATE_KEY = 11000


def _millis(at: datetime) -> datetime:
    """``at`` as MongoDB stores it (milliseconds), so an equality filter on it matches."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def ensure_pending_index(db: AsyncDatabase[Any]) -> None:
    """The sweeper asks for marks older than a moment: a range on ``touched``."""
    await db[PENDING_EVENTS].create_index([("touched", ASCENDING)], name="touched")


async def write_retention(
    discussions: AsyncCollection[Any], discussion_id: str, retention: Retention
) -> None:
    """Stores a retention review, unless the status moved on meanwhile (then the next
    write or sweep reviews it again with the new status). The retention sweeper's
    write, off the record path (the status condition is not an ``_id`` filter)."""
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
    """``by_id_reads``: ``"each"`` reads a batch's documents with one concurrent
    ``find_one`` per id, ``"in"`` with one ``$in`` query (see the module's docstring)."""

    def __init__(
        self,
        db: AsyncDatabase[Any],
        by_id_reads: str = "each",
        write_chunk: int = DEFAULT_WRITE_CHUNK,
        read_concurrency: int = DEFAULT_READ_CONCURRENCY,
    ) -> None:
        if by_id_reads not in BY_ID_READS:
            raise ValueError(f"by_id_reads must be one of {BY_ID_READS}, not {by_id_reads!r}")
        if write_chunk < 1 or read_concurrency < 1:
            raise ValueError("write_chunk and read_concurrency must be positive")
        self._chunk = write_chunk
        self._read_concurrency = read_concurrency
        self._reads = asyncio.Semaphore(read_concurrency)
        self._discussions = db[DISCUSSIONS]
        self._messages = db[MESSAGES]
        self._customers = db[CUSTOMERS]
        self._pending = db[PENDING_EVENTS]
        self._by_id_reads = by_id_reads

    async def warm_up(self) -> None:
        """Opens the connections a batch's concurrent reads use, before the first batch:
        the driver opens them two at a time (maxConnecting), which a first batch would
        otherwise wait for, read by read."""
        await asyncio.gather(
            *(self._find_one(self._pending, "") for _ in range(self._read_concurrency))
        )

    async def _read_many(
        self, collection: AsyncCollection[Any], ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        if len(unique) == 1 or self._by_id_reads == "each":
            found = await asyncio.gather(*(self._find_one(collection, i) for i in unique))
            return {str(doc["_id"]): doc for doc in found if doc is not None}
        return {str(doc["_id"]): doc async for doc in collection.find({"_id": {"$in": unique}})}

    async def _find_one(self, collection: AsyncCollection[Any], _id: str) -> Any:
        async with self._reads:  # a bounded share of the server's connections
            return await collection.find_one({"_id": _id})

    async def load_discussions(self, discussion_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        docs = await self._read_many(self._discussions, discussion_ids)
        for doc in docs.values():
            if MESSAGE_IDS not in doc:
                await self._migrate(doc)
        return docs

    async def _migrate(self, doc: dict[str, Any]) -> None:
        """Fills in the bookkeeping of a discussion stored before it existed, from its
        messages (one query by ``discussion_id``, once: the batch's write stores it)."""
        discussion_id = str(doc["_id"])
        ids: list[str] = []
        folded: list[str] = []
        unpublished: list[str] = []
        cursor = self._messages.find(
            {"discussion_id": discussion_id},
            {"event_pending": 1, "event_version": 1, "command_id": 1, "marketplace_message_id": 1},
        )
        async for message in cursor:
            message_id = str(message["_id"])
            ids.append(message_id)
            if message.get("event_pending"):
                unpublished.append(event_entry(message_id, int(message.get("event_version") or 0)))
            if message.get("command_id") and message.get("marketplace_message_id"):
                # One of our replies that came back from the marketplace.
                folded.append(inbound_message_id(discussion_id, message["marketplace_message_id"]))
        doc[MESSAGE_IDS] = ids
        doc[FOLDED_IDS] = folded
        doc[LEGACY_PENDING] = unpublished

    async def load_messages(self, message_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self._read_many(self._messages, message_ids)

    async def load_pending(self, discussion_ids: Sequence[str]) -> dict[str, list[str]]:
        marks = await self._read_many(self._pending, discussion_ids)
        return {i: list(mark.get("events") or []) for i, mark in marks.items()}

    async def write(self, drafts: Sequence[Draft], marked_at: datetime) -> None:
        touched = _millis(marked_at)
        marks = [(d, entries) for d in drafts if (entries := d.pending_entries())]

        def add_to_mark(doc: dict[str, Any]) -> UpdateOne:
            # Added to, never replaced: a batch run again after a crash finds no new
            # message, and the entries of the first run must stay until published.
            return UpdateOne(
                {"_id": doc["_id"]},
                {"$set": {"touched": touched}, "$addToSet": {"events": {"$each": doc["events"]}}},
                upsert=True,
            )

        async def write_marks() -> None:
            await _insert_new(
                self._pending,
                [
                    {"_id": d.discussion_id, "touched": touched, "events": entries}
                    for d, entries in marks
                    if not d.marked
                ],
                add_to_mark,
                self._chunk,
            )
            await _bulk(
                self._pending,
                [
                    add_to_mark({"_id": d.discussion_id, "events": entries})
                    for d, entries in marks
                    if d.marked
                ],
                self._chunk,
            )

        async def write_customers() -> None:
            # Created once (when a discussion is linked), never changed here: inserted
            # in one unordered command; one that exists already (another discussion of
            # the buyer, another worker's batch) is a duplicate key, told apart per
            # customer and left as it is, as an upsert with only $setOnInsert would.
            customers = {cid: doc for d in drafts for cid, doc in d.customers.items()}
            await _insert_new(
                self._customers,
                [{**doc, "_id": cid} for cid, doc in customers.items()],
                lambda doc: None,
                self._chunk,
            )

        async def write_messages() -> None:
            # New messages are inserted (a message already stored, by a batch that
            # crashed before its discussion, is the same document: its duplicate key is
            # ignored); a reply's message is rewritten whole.
            await _insert_new(
                self._messages,
                [doc for d in drafts for mid, doc in d.messages.items() if mid not in d.replaced],
                lambda doc: None,
                self._chunk,
            )
            changed: list[Any] = [
                ReplaceOne({"_id": mid}, {k: v for k, v in doc.items() if k != "_id"}, upsert=True)
                for d in drafts
                for mid, doc in d.messages.items()
                if mid in d.replaced
            ]
            changed.extend(DeleteOne({"_id": mid}) for d in drafts for mid in d.deleted)
            await _bulk(self._messages, changed, self._chunk)

        # Marks, customers and messages name different documents and are each
        # idempotent, so they go together; the discussions (the commit point) only once
        # all three are stored: a crash before that leaves the batch to be run again.
        await asyncio.gather(write_marks(), write_customers(), write_messages())
        by_id = {d.discussion_id: d for d in drafts if d.touched}

        def update_of(draft: Draft) -> UpdateOne:
            update: dict[str, Any] = {"$set": draft.changes}
            if draft.on_insert:
                update["$setOnInsert"] = draft.on_insert
            return UpdateOne({"_id": draft.discussion_id}, update, upsert=bool(draft.on_insert))

        # A new discussion is inserted whole; should it exist after all (a worker that
        # lost the partition still finishing its batch), the insert becomes an update.
        await _insert_new(
            self._discussions,
            [
                {**d.on_insert, **d.changes, "_id": d.discussion_id}
                for d in by_id.values()
                if not d.existed
            ],
            lambda doc: update_of(by_id[str(doc["_id"])]),
            self._chunk,
        )
        await _bulk(
            self._discussions,
            [update_of(d) for d in by_id.values() if d.existed and d.changes],
            self._chunk,
        )

    async def clear_pending(self, discussion_ids: Sequence[str]) -> None:
        # By _id alone (pushed down), once the mark's events are out: one discussion's
        # records are processed by one worker at a time, so no later mark of the stream
        # is removed here; a sweeper that claimed the mark meanwhile republishes at most
        # events consumers drop (same ids).
        await _bulk(
            self._pending,
            [DeleteOne({"_id": i}) for i in dict.fromkeys(discussion_ids)],
            self._chunk,
        )

    async def release_pending(self, discussion_id: str, marked: datetime) -> None:
        # Only the mark this sweep claimed: one renewed since belongs to a later record.
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


async def _insert_new(
    collection: AsyncCollection[Any],
    docs: list[dict[str, Any]],
    instead: Callable[[dict[str, Any]], UpdateOne | None],
    chunk: int,
) -> None:
    """Inserts documents believed new, in one unordered command: an insert is far
    cheaper than an upsert on FerretDB (no read first; all rows in one transaction),
    and holds no connection (see :func:`_bulk`). A document that exists after all
    (duplicate key) gets ``instead(doc)``, if any."""
    if not docs:
        return
    try:
        await collection.bulk_write([InsertOne(doc) for doc in docs], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if exc.details.get("writeConcernErrors") or any(
            e.get("code") != _DUPLICATE_KEY for e in errors
        ):
            raise
        retry = [op for e in errors if (op := instead(docs[int(e["index"])])) is not None]
        await _bulk(collection, retry, chunk)


async def _bulk(collection: AsyncCollection[Any], operations: Sequence[Any], chunk: int) -> None:
    """Unordered: every operation names its own document, so none waits on another.

    Sent ``chunk`` operations per command, one command at a time: FerretDB v1.24
    (SQLite) keeps one connection of its per-database pool (100) open for every
    statement of an update command that matches a document until the whole command
    ends, so one command of ~100 updates of existing documents, or a few concurrent
    ones, wait for a connection forever and hang that database for every client.
    """
    ops = list(operations)
    for start in range(0, len(ops), chunk):
        await collection.bulk_write(ops[start : start + chunk], ordered=False)
