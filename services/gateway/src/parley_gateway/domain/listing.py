"""Filters and keyset pagination of the discussion list.

The list is sorted by ``last_message_at`` descending, then ``_id`` descending, so the
order is total and stable while discussions keep arriving. A cursor is the position
of the last item of a page; the next page starts strictly after it. Unlike offsets,
this never skips or repeats an item when new discussions come in at the top.

Discussions without any message yet (``last_message_at`` null) sort last, as
MongoDB sorts nulls below every date in descending order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from parley_store import DiscussionDocument, DiscussionStatus, DiscussionType

from .workflow import WorkflowRejected, clean_tags

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_CURSOR_CHARS = 512
MAX_CONTAINS_CHARS = 100

# The checksum makes an edited or truncated cursor fail loudly instead of silently
# paging from somewhere else. It is not a secret: a cursor only says where a page
# starts, and the caller's scope still applies to every query it drives.
_CHECKSUM_KEY = b"parley.gateway.cursor.v1"
_CHECKSUM_BYTES = 8


# A discussion the team is done with: its reply deadline puts nothing "at risk".
SETTLED = frozenset({DiscussionStatus.SOLVED, DiscussionStatus.CLOSED})


def at_risk_before(now: datetime, window: timedelta) -> datetime:
    """Replies due before this moment are "at risk": overdue, or due within ``window``."""
    return now + window


class InvalidCursor(ValueError):
    """The cursor was not produced by this API (edited, truncated or from elsewhere)."""


class InvalidFilter(ValueError):
    """A list filter that can never be satisfied or is malformed; names the parameter."""

    def __init__(self, parameter: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class DiscussionFilters:
    """The list filters; an empty set or None means "no filter on this field".

    ``entity_ids``: the discussion is about one of these orders, offers or products (the
    marketplace's id as its ``entities`` list it, exact).
    ``participant`` and ``subject`` are "contains" searches, case-insensitive, on the
    text as given (never a pattern). ``since`` ≤ last message < ``until``, so adjacent
    ranges never count a discussion twice; discussions without a message match neither.
    ``reply_due_before``: a reply is expected and due before that time (overdue ones
    included); discussions that expect no reply never match.
    ``tags``: the discussion holds ALL of these tags. Every other filter offers
    alternatives ("any of these statuses"), but tags label a discussion along several
    axes at once (``urgent`` and ``late-delivery``), and a support team adding a second
    tag means "narrow it down", not "show me more". Tags follow the rule tags are set
    with (:func:`clean_tags`: lowercased, slugs, at most ``MAX_TAGS``), so ``Urgent``
    finds what was tagged ``urgent`` and a tag that could never have been set is
    refused instead of silently matching nothing.
    Store ids only ever narrow the caller's scope (see :meth:`Scope.narrow`).
    """

    marketplaces: frozenset[str] = field(default_factory=frozenset)
    statuses: frozenset[DiscussionStatus] = field(default_factory=frozenset)
    store_ids: frozenset[str] = field(default_factory=frozenset)
    read: bool | None = None
    types: frozenset[DiscussionType] = field(default_factory=frozenset)
    order_ids: frozenset[str] = field(default_factory=frozenset)
    entity_ids: frozenset[str] = field(default_factory=frozenset)
    participant: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    reply_due_before: datetime | None = None
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.tags:
            try:
                cleaned = clean_tags(sorted(self.tags))
            except WorkflowRejected as exc:
                # Named after the API parameter (REST ?tag=, GraphQL tag), not the
                # index in a set the caller never ordered.
                raise InvalidFilter("tag", exc.detail, exc.code) from exc
            object.__setattr__(self, "tags", frozenset(cleaned))
        for name in ("participant", "subject"):
            text = getattr(self, name)
            if text is None:
                continue
            cleaned = text.strip()
            if not cleaned:
                raise InvalidFilter(name, f"{name} needs some text to look for", "empty")
            if len(cleaned) > MAX_CONTAINS_CHARS:
                raise InvalidFilter(
                    name, f"{name} holds at most {MAX_CONTAINS_CHARS} characters", "too_long"
                )
            object.__setattr__(self, name, cleaned)
        for name in ("since", "until", "reply_due_before"):
            when = getattr(self, name)
            if when is not None and when.tzinfo is None:
                raise InvalidFilter(name, f"{name} needs a time zone (e.g. Z)", "naive_datetime")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidFilter("until", "until must be later than since", "empty_range")

    def without_statuses(self) -> DiscussionFilters:
        """The same filters for every status: what the inbox tabs count."""
        return replace(self, statuses=frozenset())


@dataclass(frozen=True)
class Position:
    """Where an item sits in the list order: what a cursor carries."""

    last_message_at: datetime | None
    discussion_id: str

    @classmethod
    def of(cls, discussion: DiscussionDocument) -> Position:
        return cls(discussion.last_message_at, discussion.id)

    def sort_key(self) -> tuple[bool, datetime, str]:
        """Ascending key of the list order (the list shows it descending)."""
        when = self.last_message_at or datetime.min.replace(tzinfo=UTC)
        return (self.last_message_at is not None, when, self.discussion_id)


def encode_cursor(position: Position) -> str:
    when = position.last_message_at
    payload = json.dumps(
        {"t": when.isoformat() if when else None, "id": position.discussion_id},
        separators=(",", ":"),
    ).encode()
    token = _checksum(payload) + payload
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> Position:
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("the cursor is empty or too long")
    try:
        token = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the cursor is not base64url") from exc
    checksum, payload = token[:_CHECKSUM_BYTES], token[_CHECKSUM_BYTES:]
    if not hmac.compare_digest(checksum, _checksum(payload)):
        raise InvalidCursor("the cursor was altered")
    try:
        data: Any = json.loads(payload)
        when_raw, discussion_id = data["t"], data["id"]
        when = None if when_raw is None else datetime.fromisoformat(when_raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("the cursor does not hold a list position") from exc
    if not isinstance(discussion_id, str) or not discussion_id:
        raise InvalidCursor("the cursor does not hold a list position")
    if when is not None and when.tzinfo is None:
        raise InvalidCursor("the cursor does not hold a list position")
    return Position(when, discussion_id)


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, key=_CHECKSUM_KEY, digest_size=_CHECKSUM_BYTES).digest()
