"""In-memory fakes of the normalizer's own ports (parley_normalizer.ports).

The store applies a draft the way the MongoDB adapter's updates do (pending marks
added to, ``$setOnInsert`` for new documents only, ``$set`` of the changed fields),
counts its round trips, and can be told to fail a step: enough to prove
the batch logic — idempotence, crash points, per-record failures — without a server.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from parley_normalizer.domain.state import FOLDED_IDS, MESSAGE_IDS, Draft
from parley_schemas import Envelope


class FakeStore:
    def __init__(self) -> None:
        self.discussions: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, datetime] = {}  # pending marks: touched
        self.pending_events: dict[str, list[str]] = {}  # pending marks: entries
        self.round_trips: list[str] = []
        self.written: list[str] = []  # discussion ids, each time one is written
        # Raised by write() once, after the messages are stored and before the
        # discussions are: the crash point between the two.
        self.crash_before_discussions: BaseException | None = None
        self.poisoned: set[str] = set()  # discussion ids whose write always fails

    async def load_discussions(self, discussion_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.round_trips.append("load_discussions")
        found = {}
        for i in discussion_ids:
            if i in self.discussions:
                doc = copy.deepcopy(self.discussions[i])
                for name in (MESSAGE_IDS, FOLDED_IDS):
                    doc.setdefault(name, [])
                found[i] = doc
        return found

    async def load_messages(self, message_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.round_trips.append("load_messages")
        return {i: copy.deepcopy(self.messages[i]) for i in message_ids if i in self.messages}

    async def load_pending(self, discussion_ids: Sequence[str]) -> dict[str, list[str]]:
        self.round_trips.append("load_pending")
        return {i: list(self.pending_events[i]) for i in discussion_ids if i in self.pending}

    async def write(self, drafts: Sequence[Draft], marked_at: datetime) -> None:
        self.round_trips.append("write")
        for draft in drafts:
            if draft.discussion_id in self.poisoned:
                raise ValueError(f"cannot store {draft.discussion_id}")
        for draft in drafts:
            if entries := draft.pending_entries():
                self.pending[draft.discussion_id] = marked_at
                known = self.pending_events.setdefault(draft.discussion_id, [])
                known.extend(e for e in entries if e not in known)
        for draft in drafts:
            for cid, doc in draft.customers.items():
                self.customers.setdefault(cid, {"_id": cid, **doc})
            for mid, doc in draft.messages.items():
                if mid in draft.replaced:
                    self.messages[mid] = copy.deepcopy(doc)
                else:
                    self.messages.setdefault(mid, copy.deepcopy(doc))
            for mid in draft.deleted:
                self.messages.pop(mid, None)
        if self.crash_before_discussions is not None:
            crash, self.crash_before_discussions = self.crash_before_discussions, None
            raise crash
        for draft in drafts:
            if not draft.touched:
                continue
            self.written.append(draft.discussion_id)
            stored = self.discussions.get(draft.discussion_id)
            if stored is None:
                if not draft.on_insert:
                    continue
                stored = self.discussions[draft.discussion_id] = {
                    "_id": draft.discussion_id,
                    **copy.deepcopy(draft.on_insert),
                }
            stored.update(copy.deepcopy(draft.changes))

    async def clear_pending(self, discussion_ids: Sequence[str]) -> None:
        self.round_trips.append("clear_pending")
        for i in discussion_ids:
            self.pending.pop(i, None)
            self.pending_events.pop(i, None)

    async def release_pending(self, discussion_id: str, marked: datetime) -> None:
        if self.pending.get(discussion_id) == marked:
            del self.pending[discussion_id]
            self.pending_events.pop(discussion_id, None)

    async def stale_pending(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        return [(i, at) for i, at in self.pending.items() if at < before][:limit]

    async def claim_pending(self, discussion_id: str, marked: datetime, at: datetime) -> bool:
        if self.pending.get(discussion_id) != marked:
            return False
        self.pending[discussion_id] = at
        return True


class RecordingSink:
    """Keeps what was emitted; ``fail_next`` makes the next emits fail (broker away)."""

    def __init__(self) -> None:
        self.events: list[Envelope[Any]] = []
        self.fail_next = 0

    async def emit(self, *envelopes: Envelope[Any]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("broker unreachable")
        self.events.extend(envelopes)

    def ids(self) -> list[str]:
        return [e.id for e in self.events]
