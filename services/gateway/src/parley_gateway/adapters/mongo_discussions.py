"""MongoDB adapter of :class:`~parley_gateway.ports.DiscussionRepository`.

Reads the normalizer's read model and writes only the workflow fields the gateway
owns (parley_store.WORKFLOW_FIELDS), each with a field-level ``$set`` so a concurrent
sync of the same discussion is never overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.domain import (
    SETTLED,
    DiscussionFilters,
    Position,
    Scope,
    StatusChange,
    WorkflowUpdate,
)
from parley_gateway.ports import WorkflowWrite
from parley_schemas import AttachmentRef
from parley_store import (
    DISCUSSIONS,
    MESSAGES,
    WORKFLOW_FIELDS,
    DiscussionDocument,
    DiscussionStatus,
    MessageDocument,
)

# The list order. Every list query is served by an index of parley_store whose keys
# are store_id, at most one other equality field, then exactly these (no SORT stage on
# MongoDB; tests/unit/gateway/test_mongo_queries.py checks every filter against them).
LIST_ORDER = [("last_message_at", DESCENDING), ("_id", DESCENDING)]
# What a list page reads of each discussion: the inbox row (REST DiscussionSummary,
# GraphQL Discussion), the cursor's fields and the document's required fields.
LIST_FIELDS = (
    "key",
    "store_id",
    "marketplace",
    "family",
    "channel",
    "thread_id",
    "subject",
    "type",
    "status",
    "read",
    "order_id",
    "entities",
    "participants",
    "created_at",
    "last_message_at",
    "last_message_preview",
    "message_count",
    "merchant_ticket_id",
    "tags",
    "reply_expected",
    "reply_due_at",
)
LIST_PROJECTION = dict.fromkeys(LIST_FIELDS, 1)
MESSAGE_ORDER = [("sent_at", ASCENDING), ("_id", ASCENDING)]
# Regex metacharacters of both PCRE (MongoDB) and RE2 (FerretDB), escaped the way both
# read them: a search text is always matched literally, never as a pattern a caller
# could use to match something else or to make the query expensive.
_REGEX_META = re.compile(r"([\\^$.|?*+()\[\]{}])")


# Server-side time limit of every read when none is configured (see GatewaySettings).
DEFAULT_MAX_TIME_MS = 3000


class MongoDiscussionRepository:
    """Every find, count and aggregate carries ``maxTimeMS``: the server abandons a
    query that runs longer, also when its client went away (a cancelled request only
    closes the connection; the server would otherwise finish the query for no one)."""

    def __init__(self, db: AsyncDatabase[Any], *, max_time_ms: int = DEFAULT_MAX_TIME_MS) -> None:
        self._db = db
        self._max_time_ms = max_time_ms
        self._discussions = db[DISCUSSIONS]
        self._messages = db[MESSAGES]

    async def find_page(
        self, scope: Scope, filters: DiscussionFilters, after: Position | None, limit: int
    ) -> list[DiscussionDocument]:
        query = list_query(scope, filters, after)
        if query is None:
            return []
        cursor = (
            self._discussions.find(query, LIST_PROJECTION, max_time_ms=self._max_time_ms)
            .sort(LIST_ORDER)
            .limit(limit)
        )
        return [DiscussionDocument.model_validate(doc) async for doc in cursor]

    async def count_by_status(
        self, scope: Scope, filters: DiscussionFilters
    ) -> dict[DiscussionStatus, int]:
        query = list_query(scope, filters, None)
        if query is None:
            return {}
        cursor = await self._discussions.aggregate(
            [{"$match": query}, {"$group": {"_id": "$status", "count": {"$sum": 1}}}],
            maxTimeMS=self._max_time_ms,
        )
        return {DiscussionStatus(row["_id"]): int(row["count"]) async for row in cursor}

    async def count_at_risk(
        self, scope: Scope, filters: DiscussionFilters, due_before: datetime
    ) -> int:
        query = list_query(scope, filters, None)
        if query is None:
            return 0
        at_risk = {
            "reply_due_at": {"$lt": due_before},
            "status": {"$nin": [s.value for s in SETTLED]},
        }
        return int(
            await self._discussions.count_documents(
                {"$and": [query, at_risk]}, maxTimeMS=self._max_time_ms
            )
        )

    async def get(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None:
        query = _scoped(scope, {"_id": discussion_id})
        if query is None:
            return None
        doc = await self._discussions.find_one(query, max_time_ms=self._max_time_ms)
        return DiscussionDocument.model_validate(doc) if doc else None

    async def mark_read(self, scope: Scope, discussion_id: str) -> WorkflowWrite | None:
        return await self._write_workflow(_scoped(scope, {"_id": discussion_id}), {"read": True})

    async def messages_of(self, discussion: DiscussionDocument) -> list[MessageDocument]:
        cursor = self._messages.find(
            {"discussion_id": discussion.id}, max_time_ms=self._max_time_ms
        ).sort(MESSAGE_ORDER)
        return [MessageDocument.model_validate(doc) async for doc in cursor]

    async def attachment_of(
        self, discussion: DiscussionDocument, file_id: str
    ) -> AttachmentRef | None:
        # Backed by the discussion_time index (discussion_id first).
        doc = await self._messages.find_one(
            {"discussion_id": discussion.id, "attachments.file_id": file_id},
            {"attachments": 1},
            max_time_ms=self._max_time_ms,
        )
        if doc is None:
            return None
        found = (AttachmentRef.model_validate(a) for a in doc.get("attachments", []))
        return next((a for a in found if a.file_id == file_id), None)

    async def change_status(
        self, scope: Scope, discussion_id: str, change: StatusChange
    ) -> WorkflowWrite | None:
        condition: dict[str, Any] = {"_id": discussion_id}
        if change.only_from is not None:
            condition["status"] = {"$in": sorted(s.value for s in change.only_from)}
        return await self._write_workflow(_scoped(scope, condition), {"status": change.to.value})

    async def update_workflow(
        self, scope: Scope, discussion_id: str, update: WorkflowUpdate
    ) -> WorkflowWrite | None:
        return await self._write_workflow(_scoped(scope, {"_id": discussion_id}), update.fields())

    async def _write_workflow(
        self, query: dict[str, Any] | None, fields: Mapping[str, Any]
    ) -> WorkflowWrite | None:
        """One atomic write answering the document as it was before it: before and
        after then differ exactly by this write, whatever else happens meanwhile."""
        if query is None:
            return None
        doc = await self._discussions.find_one_and_update(
            query,
            _set_workflow(fields),
            return_document=ReturnDocument.BEFORE,
            maxTimeMS=self._max_time_ms,
        )
        return _written(doc, fields) if doc else None

    async def set_status_many(
        self, scope: Scope, discussion_ids: Sequence[str], status: DiscussionStatus
    ) -> dict[str, WorkflowWrite]:
        query = _scoped(scope, {"_id": {"$in": list(discussion_ids)}})
        if query is None or not discussion_ids:
            return {}
        # Only ids found in scope are updated, and only those are reported as such;
        # the update is restricted to them, so nothing else can ever be touched. The
        # documents read first say what each one's status was (announced with the change).
        fields = {"status": status.value}
        found = {
            str(doc["_id"]): _written(doc, fields)
            async for doc in self._discussions.find(query, max_time_ms=self._max_time_ms)
        }
        if found:
            await self._discussions.update_many(
                _scoped_ids(scope, set(found)), _set_workflow(fields)
            )
        return found

    async def ping(self) -> None:
        await self._db.command("ping")


def list_query(
    scope: Scope, filters: DiscussionFilters, after: Position | None
) -> dict[str, Any] | None:
    """The MongoDB filter of one list page; None when the scope leaves nothing to find.

    One flat document: the store, then the other equality fields, each a plain value
    when there is one (``$in`` only for several), so MongoDB seeks the compound index
    (store, field, last_message_at, _id) and reads it in list order; FerretDB's
    PostgreSQL backend pushes such top-level equalities down to SQL (not ``$in``, not
    ranges, not ``$and``/``$or``), reading only the matching documents. Conditions a
    key already holds go under ``$and``.

    Tags are an array: ``{"tags": "x"}`` matches a discussion holding ``x`` among
    others (in MongoDB and FerretDB alike), so one tag stays a plain equality;
    several must all be held, hence ``$all`` on the one key (MongoDB seeks the
    multikey store_tags_last_message on its first value and checks the rest).
    """
    stores = scope.narrow(filters.store_ids)
    if stores is not None and not stores:
        return None
    query: dict[str, Any] = {}
    if stores is not None:
        query["store_id"] = _one_or_in(stores)
    if filters.marketplaces:
        query["marketplace"] = _one_or_in(filters.marketplaces)
    if filters.statuses:
        query["status"] = _one_or_in(s.value for s in filters.statuses)
    if filters.read is not None:
        query["read"] = filters.read
    if filters.types:
        query["type"] = _one_or_in(t.value for t in filters.types)
    if filters.order_ids:
        query["order_id"] = _one_or_in(filters.order_ids)
    if filters.entity_ids:
        # Equality on the (multikey) entity ids: seeks store_entity_last_message.
        query["entities.id"] = _one_or_in(filters.entity_ids)
    if filters.tags:
        ordered = sorted(filters.tags)
        query["tags"] = ordered[0] if len(ordered) == 1 else {"$all": ordered}
    if filters.since is not None or filters.until is not None:
        window: dict[str, Any] = {}
        if filters.since is not None:
            window["$gte"] = filters.since
        if filters.until is not None:
            window["$lt"] = filters.until
        query["last_message_at"] = window
    if filters.reply_due_before is not None:
        # Null (no reply expected) is never "less than" a date: only the due ones match.
        query["reply_due_at"] = {"$lt": filters.reply_due_before}
    if filters.subject is not None:
        query["subject"] = _contains(filters.subject)
    more: list[dict[str, Any]] = []
    if filters.participant is not None:
        pattern = _contains(filters.participant)
        more.append({"$or": [{"participants.name": pattern}, {"participants.email": pattern}]})
    if after is not None:
        more.append(_after(after))
    both: list[dict[str, Any]] = []
    for clause in more:
        if query.keys() & clause.keys():
            both.append(clause)
        else:
            query.update(clause)
    if both:
        query["$and"] = both
    return query


def _one_or_in(values: Iterable[str]) -> Any:
    """One value as equality, several as ``$in`` (sorted: the same filter, the same query)."""
    ordered = sorted(values)
    return ordered[0] if len(ordered) == 1 else {"$in": ordered}


def _after(position: Position) -> dict[str, Any]:
    """Strictly after ``position`` in (last_message_at desc, _id desc) order.

    A null ``last_message_at`` sorts below every date (and ``{field: None}`` also
    matches a missing field), so dated positions are followed by every undated one.
    """
    if position.last_message_at is None:
        return {"last_message_at": None, "_id": {"$lt": position.discussion_id}}
    return {
        "$or": [
            {"last_message_at": {"$lt": position.last_message_at}},
            {"last_message_at": position.last_message_at, "_id": {"$lt": position.discussion_id}},
            {"last_message_at": None},
        ]
    }


def _contains(text: str) -> dict[str, str]:
    """Case-insensitive "contains" of the literal text."""
    return {"$regex": _REGEX_META.sub(r"\\\1", text), "$options": "i"}


def _scoped_ids(scope: Scope, ids: set[str]) -> dict[str, Any]:
    query = _scoped(scope, {"_id": {"$in": sorted(ids)}})
    assert query is not None, "ids were found in this scope"
    return query


def _scoped(scope: Scope, query: dict[str, Any]) -> dict[str, Any] | None:
    stores = scope.narrow()
    if stores is None:
        return query
    if not stores:
        return None
    return {**query, "store_id": _one_or_in(stores)}


def _written(before: Mapping[str, Any], fields: Mapping[str, Any]) -> WorkflowWrite:
    return WorkflowWrite(
        DiscussionDocument.model_validate(before),
        DiscussionDocument.model_validate({**before, **fields}),
    )


def _set_workflow(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A field-level ``$set`` of workflow fields only: sync owns everything else."""
    foreign = set(fields) - WORKFLOW_FIELDS
    if foreign:
        raise ValueError(f"the gateway does not own {sorted(foreign)}")
    return {"$set": dict(fields)}
