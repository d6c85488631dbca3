"""A discussion as the normalizer keeps it, and what each record does to it.

Why the bookkeeping lives on the discussion document: the embedded server (FerretDB
v1) answers a filter other than exactly ``{_id: value}`` by reading the whole
collection, so "which of these messages do I know", "how many messages", "which is
the latest" or "which events are still unpublished" cannot be asked of the messages
collection per record without each record costing a scan of everything stored. The
discussion document therefore carries, next to the summary the inbox shows:

- ``message_ids``: the ids of its stored messages (``message_count`` is their number);
- ``folded_message_ids``: ids a synced copy of one of our replies would get, so the
  next sync does not store the reply twice (it is stored under its command id);
- ``last_message_id``: which message the summary (``last_message_at``/``_preview``)
  shows, so an update of that message refreshes it.

The events a batch must publish (``"created"``, ``"<message id>:<event version>"``)
are not kept on the discussion but in its pending mark (see the adapter), written
before the discussion and removed once they are out: no second write of the
discussion per batch, and what a crash left unpublished is read back by ``_id``.

Every decision is a pure function of the stored discussion (read by ``_id``) and the
record, applied to a :class:`Draft`; the adapter writes the draft by ``_id``. The
outcome does not depend on how often or in which order snapshots arrive: messages are
a set union (by deterministic ids), the summary keeps the latest message, and synced
fields are taken from a snapshot only if it was fetched no earlier than the one
stored. Replaying a record therefore changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley_connectors.reply_rules import reply_window
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
    DiscussionDocument,
    DiscussionStatus,
    MessageDocument,
    customer_id_for,
    inbound_message_id,
    outbound_message_id,
)

from . import threads
from .alerts import AlertDiscussion
from .reply_due import ReplyDue, reply_due
from .retention import RetentionPolicies, review

MESSAGE_IDS = "message_ids"
FOLDED_IDS = "folded_message_ids"
CREATED = "created"  # the pending-events entry of a discussion's created event
# Set by the adapter on a discussion stored before the bookkeeping existed: the
# entries its messages' old ``event_pending`` flags stood for (never written back).
LEGACY_PENDING = "_legacy_pending_events"
LAST_MESSAGE_ID = "last_message_id"
# The latest reply of the shop (sent through Parley, or written on the marketplace),
# and the times of the buyer's or operator's messages after it: whether a reply is
# expected, and since the first of those (the deadline runs from the oldest question).
LAST_REPLY_AT = "last_reply_at"
UNANSWERED_AT = "unanswered_at"

# Workflow fields (the gateway's) are only ever written when the discussion is created.
_WORKFLOW_DEFAULTS: dict[str, Any] = {
    "status": DiscussionStatus.NEW.value,
    "read": False,
    "merchant_ticket_id": None,
}
_STATE_RANK = {DeliveryState.QUEUED: 0, DeliveryState.FAILED: 1, DeliveryState.SENT: 2}


class NoSuchDiscussion(ValueError):
    """A delivery result for a discussion that is not stored: replies are only accepted
    for stored discussions, so waiting will not make it appear."""


def event_entry(message_id: str, version: int) -> str:
    return f"{message_id}:{version}"


def parse_entry(entry: str) -> tuple[str, int]:
    message_id, _, version = entry.rpartition(":")
    return message_id, int(version)


@dataclass
class Draft:
    """One discussion while a batch is applied to it; written once at the end."""

    discussion_id: str
    existed: bool
    doc: dict[str, Any]
    message_ids: dict[str, None]  # ordered set
    folded: dict[str, None]
    unpublished: dict[str, int]  # message id -> version to announce
    created_pending: bool = False  # the discussion's created event is still to announce
    marked: bool = False  # its pending mark existed when the batch read it
    migrated: bool = False  # bookkeeping rebuilt from its messages: to be stored
    changes: dict[str, Any] = field(default_factory=dict)  # $set of the discussion
    on_insert: dict[str, Any] = field(default_factory=dict)  # $setOnInsert
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # written, by id
    replaced: set[str] = field(default_factory=set)  # of messages: rewritten, not inserted
    deleted: set[str] = field(default_factory=set)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_messages: int = 0

    @classmethod
    def of(
        cls,
        discussion_id: str,
        stored: dict[str, Any] | None,
        pending: Sequence[str] | None = None,
    ) -> Draft:
        """``pending``: the entries of its pending mark (events a crash left unpublished),
        None when it has none."""
        doc = dict(stored or {"_id": discussion_id})
        migrated = LEGACY_PENDING in doc
        entries = [*(pending or ()), *doc.pop(LEGACY_PENDING, [])]
        return cls(
            discussion_id=discussion_id,
            existed=stored is not None,
            doc=doc,
            message_ids=dict.fromkeys(doc.get(MESSAGE_IDS) or []),
            folded=dict.fromkeys(doc.get(FOLDED_IDS) or []),
            unpublished=dict(parse_entry(e) for e in entries if e != CREATED),
            created_pending=CREATED in entries
            or (stored is not None and stored.get("created_event_published") is False),
            marked=pending is not None,
            migrated=migrated,
        )

    @property
    def exists(self) -> bool:
        """Stored before this batch, or created by one of its records."""
        return self.existed or bool(self.on_insert)

    @property
    def touched(self) -> bool:
        return bool(self.changes or self.on_insert or self.messages or self.deleted)

    def copy(self) -> Draft:
        """A snapshot to roll back to when a record fails half-way (pure data: cheap)."""
        return copy.deepcopy(self)

    def _set(self, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if self.existed and name in self.doc and _same(self.doc[name], value):
                continue  # a replay writes nothing: no write of an unchanged discussion
            self.doc[name] = value
            # A field set on creation in this very batch stays in the insert-only part:
            # one update may not name a field in both.
            target = self.on_insert if name in self.on_insert else self.changes
            target[name] = value

    def _create(self, fields: dict[str, Any], created_at: datetime, tags: Sequence[str]) -> None:
        """The first record of a new discussion: identity, defaults and workflow fields."""
        self._set({**fields, "created_at": created_at, "customer_id": None, "message_count": 0})
        # True from the start: the created event is in the pending mark written before
        # this discussion, which is what guarantees it goes out.
        self._set({"created_event_published": True})
        self.created_pending = True
        workflow = {**_WORKFLOW_DEFAULTS, "tags": list(tags)}
        self.on_insert.update(workflow)
        self.doc.update(workflow)

    def _add_message(self, doc: dict[str, Any]) -> None:
        message_id = str(doc["_id"])
        self.messages[message_id] = doc
        self.message_ids[message_id] = None
        self.unpublished[message_id] = int(doc["event_version"])
        self._consider_latest(doc)
        self._note_turn(doc)

    def _note_turn(self, doc: dict[str, Any]) -> None:
        """Whose turn it is: a buyer or operator message asks, a sent reply answers (one
        of ours once the marketplace took it, or one written on the marketplace)."""
        at = doc.get("sent_at")
        if at is None:
            return
        last_reply = self.doc.get(LAST_REPLY_AT)
        waiting: list[datetime] = list(self.doc.get(UNANSWERED_AT) or [])
        if doc["direction"] == Direction.INBOUND.value:
            answered = last_reply is not None and _ms(at) <= _ms(last_reply)
            if not answered and all(_ms(w) != _ms(at) for w in waiting):
                self._set({UNANSWERED_AT: sorted([*waiting, at], key=_ms)})
            return
        sent = (doc.get("delivery") or {}).get("state") == DeliveryState.SENT.value
        newest = last_reply is None or _ms(at) > _ms(last_reply)
        if (doc.get("command_id") is None or sent) and newest:
            self._set({LAST_REPLY_AT: at})
            still = [w for w in waiting if _ms(w) > _ms(at)]
            if len(still) != len(waiting):
                self._set({UNANSWERED_AT: still})

    def _consider_latest(self, doc: dict[str, Any], force: bool = False) -> None:
        current_id = self.doc.get(LAST_MESSAGE_ID)
        current_at = self.doc.get("last_message_at")
        newer = current_at is None or (_ms(doc["sent_at"]), str(doc["_id"])) > (
            _ms(current_at),
            str(current_id or ""),
        )
        if force or newer or doc["_id"] == current_id:
            self._set(
                {
                    "last_message_at": doc["sent_at"],
                    "last_message_preview": threads.preview(doc["body"]),
                    LAST_MESSAGE_ID: doc["_id"],
                }
            )

    def _add_synced(self, messages: Sequence[RawMessage]) -> list[dict[str, Any]]:
        """Stores the messages not known yet; returns those added."""
        added: list[dict[str, Any]] = []
        for message in messages:
            message_id = inbound_message_id(self.discussion_id, message.marketplace_message_id)
            if message_id in self.message_ids or message_id in self.folded:
                continue
            doc = {
                "_id": message_id,
                "discussion_id": self.discussion_id,
                "direction": threads.direction(message).value,
                "sender": message.sender.model_dump(mode="json"),
                "recipients": [r.value for r in message.recipients],
                "body": message.body,
                "sent_at": message.sent_at,
                "attachments": [a.model_dump(mode="json") for a in message.attachments],
                "marketplace_message_id": message.marketplace_message_id,
                "command_id": None,
                "delivery": None,
                "event_version": 1,
            }
            self._add_message(doc)
            added.append(doc)
        self.new_messages += len(added)
        return added

    def _link_customer(
        self, store_id: str, marketplace: str, person: Participant | None, now: datetime
    ) -> None:
        """F8: the first identified buyer becomes the discussion's customer, for good."""
        if person is None or self.doc.get("customer_id") is not None:
            return
        marketplace_customer_id = (person.marketplace_id or "").strip()
        if not marketplace_customer_id:
            return
        customer_id = customer_id_for(store_id, marketplace, marketplace_customer_id)
        self.customers[customer_id] = {
            "store_id": store_id,
            "marketplace": marketplace,
            "marketplace_customer_id": marketplace_customer_id,
            "name": person.name,
            "email": person.email,
            "created_at": now,
        }
        self._set({"customer_id": customer_id})

    # ------------------------------------------------------------------ records

    def apply_snapshot(self, snapshot: RawThreadSnapshot, now: datetime) -> list[dict[str, Any]]:
        """A marketplace thread as fetched; returns the messages it added."""
        key = DiscussionKey(
            store_id=snapshot.store_id,
            marketplace=snapshot.marketplace,
            thread_id=snapshot.thread_id,
        )
        synced = threads.synced_fields(snapshot)
        was_there = self.exists
        if not was_there:
            identity = {
                "key": str(key),
                "store_id": snapshot.store_id,
                "marketplace": snapshot.marketplace,
                "thread_id": snapshot.thread_id,
            }
            self._create(identity, synced.created_at, ())
        last_synced = self.doc.get("last_synced_at")
        if last_synced is None or _ms(snapshot.fetched_at) >= _ms(last_synced):
            self._set(synced.fields)  # an older snapshot arriving late keeps the newer fields
        added = self._add_synced(snapshot.messages)
        if was_there and any(m["direction"] == Direction.INBOUND.value for m in added):
            self._set({"read": False})  # F6: a new buyer message makes it unread again
        self._link_customer(
            snapshot.store_id, snapshot.marketplace, threads.customer(snapshot), now
        )
        return added

    def apply_alert(self, opened: AlertDiscussion, buyer: Participant, now: datetime) -> bool:
        """Opens the alert's draft once; a replay finds it and adds nothing. True when
        it opened the discussion."""
        opening = not self.exists
        if opening:
            self._create(dict(opened.fields), opened.created_at, opened.tags)
        self._add_synced(opened.messages)
        self._link_customer(
            str(opened.fields["store_id"]), str(opened.fields["marketplace"]), buyer, now
        )
        return opening

    def apply_delivery(self, result: DeliveryResult, stored: dict[str, Any] | None) -> bool:
        """Records a reply's delivery state on its outbound message (``stored``: that
        message as read by ``_id``). False when the result is stale or a replay."""
        if not self.exists:
            raise NoSuchDiscussion(f"no discussion {result.discussion_id} for {result.command_id}")
        message_id = outbound_message_id(result.discussion_id, result.command_id)
        existing = self.messages.get(message_id) or stored
        if existing and existing.get("delivery"):
            delivery = existing["delivery"]
            # A merchant retry (higher ``retry``) starts over from queued, failure included;
            # within one round, states only move forward.
            current = (
                int(delivery.get("retry") or 0),
                _STATE_RANK[DeliveryState(delivery["state"])],
            )
            incoming = (result.retry, _STATE_RANK[result.state])
            if current > incoming:
                return False
            if current == incoming and delivery.get("attempts") == result.attempts:
                return False
        if result.marketplace_message_id:
            # The next sync may have brought our reply back first: fold that copy in.
            copy_id = inbound_message_id(result.discussion_id, result.marketplace_message_id)
            self.folded[copy_id] = None
            if copy_id in self.message_ids:
                del self.message_ids[copy_id]
                self.unpublished.pop(copy_id, None)
                self.messages.pop(copy_id, None)
                self.deleted.add(copy_id)
        doc: dict[str, Any] = (
            dict(existing)
            if existing
            else {
                "_id": message_id,
                "discussion_id": result.discussion_id,
                "direction": Direction.OUTBOUND.value,
                "sender": Participant(role=ParticipantRole.MERCHANT).model_dump(mode="json"),
                "recipients": [r.value for r in result.recipients],
                "sent_at": result.occurred_at,
                "command_id": result.command_id,
                "marketplace_message_id": None,
                "event_version": 0,
            }
        )
        doc.pop("event_pending", None)  # tracked by the pending mark now
        doc.update(
            {
                "delivery": {
                    "state": result.state.value,
                    "error": result.error,
                    "unconfirmed": result.unconfirmed,
                    "attempts": result.attempts,
                    "next_attempt_at": result.next_attempt_at,
                    "updated_at": result.occurred_at,
                    "retry": result.retry,
                },
                # The body as sent (download links appended) and the reply's files.
                "body": result.body,
                "attachments": [a.model_dump(mode="json") for a in result.attachments],
                "event_version": int(doc.get("event_version") or 0) + 1,
            }
        )
        if result.marketplace_message_id:
            doc["marketplace_message_id"] = result.marketplace_message_id
        if result.state is DeliveryState.SENT:
            doc["sent_at"] = result.occurred_at
        was_latest = self.doc.get(LAST_MESSAGE_ID) in self.deleted
        self.replaced.add(message_id)
        self._add_message(doc)
        if was_latest:
            self._consider_latest(doc, force=True)  # the folded copy was this very reply
        return True

    # ----------------------------------------------------------------- finishing

    def finish(self, policies: RetentionPolicies, now: datetime) -> None:
        """Bookkeeping and retention once every record of the batch is applied."""
        self.legacy_created_flag()
        if self.migrated:
            self.changes[MESSAGE_IDS] = list(self.message_ids)
            self.changes[FOLDED_IDS] = list(self.folded)
        if not self.touched:
            return
        self._set(
            {
                MESSAGE_IDS: list(self.message_ids),
                FOLDED_IDS: list(self.folded),
                "message_count": len(self.message_ids),
            }
        )
        self._set(self._reply_due().fields())
        retention = review(self.discussion(), policies, now)
        if not retention.same_as(self.discussion()):
            # Unconditional: should the gateway change the status meanwhile, the stored
            # ``retention_status`` differs from it and the sweeper reviews it again.
            self._set(
                {
                    "expires_at": retention.expires_at,
                    "retention_status": retention.status.value,
                    "retention_status_since": retention.status_since,
                }
            )

    def _reply_due(self) -> ReplyDue:
        doc = self.doc
        return reply_due(
            unanswered_since=min(doc.get(UNANSWERED_AT) or [], key=_ms, default=None),
            last_reply_at=doc.get(LAST_REPLY_AT),
            signal=bool(doc.get("reply_signal")),
            signal_since=doc.get("reply_signal_since"),
            window=reply_window(str(doc.get("family") or ""), str(doc.get("marketplace") or "")),
        )

    def discussion(self) -> DiscussionDocument:
        return DiscussionDocument.model_validate(self.doc)

    def pending_messages(self) -> list[tuple[str, int]]:
        """(message id, version) of the events still to publish."""
        return list(self.unpublished.items())

    def pending_entries(self) -> list[str]:
        """Everything still to publish, as its pending mark stores it."""
        created = [CREATED] if self.created_pending else []
        return created + [event_entry(m, v) for m, v in self.unpublished.items()]

    def legacy_created_flag(self) -> None:
        """A discussion stored with ``created_event_published: false`` (before the
        pending mark carried it): the batch's write sets it, the mark covers it."""
        if self.existed and self.doc.get("created_event_published") is False:
            self._set({"created_event_published": True})


def message_document(doc: dict[str, Any]) -> MessageDocument:
    return MessageDocument.model_validate(doc)


def _same(stored: Any, value: Any) -> bool:
    """Equal as stored: BSON dates hold milliseconds."""
    if isinstance(stored, datetime) and isinstance(value, datetime):
        return _ms(stored) == _ms(value)
    return bool(stored == value)


def _ms(moment: datetime) -> datetime:
    """BSON dates hold milliseconds: compare at that precision, stored or not."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
