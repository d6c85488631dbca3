"""Seek pagination for M11, with opaque page tokens.

A token records the query it belongs to and the sort key of the row it starts from
(``date_updated`` then ``id``), never an offset: new threads arriving between two
calls shift nothing, exactly the property seek pagination exists for. Like Mirakl,
a request carrying ``page_token`` takes its filters from the token and ignores the
ones it repeats.

Tokens are base64url JSON. They are opaque to clients by contract, not by secrecy;
a token that does not decode, or belongs to another instance, is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley_sandbox.mirakl.store import SandboxError, StoredThread


@dataclass(frozen=True)
class ThreadQuery:
    """M11's filters and page size, as the first call stated them."""

    updated_since: str | None
    with_messages: bool
    entity_type: str | None
    entity_ids: tuple[str, ...]
    descending: bool
    limit: int

    def as_json(self) -> dict[str, Any]:
        return {
            "u": self.updated_since,
            "m": self.with_messages,
            "t": self.entity_type,
            "e": list(self.entity_ids),
            "d": self.descending,
            "l": self.limit,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThreadQuery:
        return cls(
            updated_since=data["u"],
            with_messages=bool(data["m"]),
            entity_type=data["t"],
            entity_ids=tuple(data["e"]),
            descending=bool(data["d"]),
            limit=int(data["l"]),
        )


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (``next``) or before (``prev``) a sort key."""

    query: ThreadQuery
    direction: str  # "next" | "prev"
    key: tuple[str, str]  # (ISO date_updated, thread id)


def encode(instance: str, cursor: Cursor) -> str:
    data = {
        "i": instance,
        "q": cursor.query.as_json(),
        "w": cursor.direction,
        "k": list(cursor.key),
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(instance: str, token: str) -> Cursor:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["i"] != instance or data["w"] not in ("next", "prev"):
            raise ValueError("foreign token")
        date, thread_id = data["k"]
        return Cursor(ThreadQuery.from_json(data["q"]), data["w"], (str(date), str(thread_id)))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SandboxError(400, "Invalid page_token") from exc


def _key(thread: StoredThread) -> tuple[datetime, str]:
    return (thread.date_updated, thread.id)


@dataclass(frozen=True)
class Page:
    items: list[StoredThread]
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


def paginate(
    threads: Sequence[StoredThread],
    query: ThreadQuery,
    cursor: Cursor | None,
) -> Page:
    """One page of ``threads`` in ``query`` order, starting where ``cursor`` says."""
    ordered = sorted(threads, key=_key, reverse=query.descending)
    if cursor is None:
        start, end = 0, min(query.limit, len(ordered))
    else:
        pivot = (datetime.fromisoformat(cursor.key[0]), cursor.key[1])
        # Index of the first row that comes after the pivot in display order.
        after = next(
            (
                i
                for i, t in enumerate(ordered)
                if (_key(t) < pivot if query.descending else _key(t) > pivot)
            ),
            len(ordered),
        )
        if cursor.direction == "next":
            start, end = after, min(after + query.limit, len(ordered))
        else:
            before = next(
                (
                    i
                    for i, t in enumerate(ordered)
                    if (_key(t) <= pivot if query.descending else _key(t) >= pivot)
                ),
                len(ordered),
            )
            start, end = max(0, before - query.limit), before
    items = list(ordered[start:end])
    next_cursor = previous_cursor = None
    if items and end < len(ordered):
        next_cursor = Cursor(query, "next", _wire_key(items[-1]))
    if items and start > 0:
        previous_cursor = Cursor(query, "prev", _wire_key(items[0]))
    return Page(items, next_cursor, previous_cursor)


def _wire_key(thread: StoredThread) -> tuple[str, str]:
    return (thread.date_updated.isoformat(), thread.id)
