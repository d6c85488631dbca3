"""Collection names and the indexes that back every list filter.

FerretDB v1 (the local stack) supports plain, compound and unique indexes but not
TTL or partial indexes, so only those are used here. Retention therefore deletes
through the normalizer's sweeper (``parley_normalizer.retention``) on the plain
``expires_at`` index, the same on MongoDB and FerretDB. A MongoDB TTL index on
``expires_at`` would delete discussions alone and orphan their messages (TTL works
per document, messages live in their own collection), so it is not used.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from .autoresponders import AUTORESPONDERS
from .connections import CONNECTION_KEYS, CONNECTIONS, INBOUND_ADDRESSES
from .customers import CUSTOMERS
from .files import BUCKET, FILE_KEYS, UPLOAD_KEYS, UPLOADS_BUCKET
from .refresh_locks import REFRESH_LOCKS

DISCUSSIONS = "discussions"
MESSAGES = "messages"
DELIVERIES = "deliveries"
SYNC_CURSORS = "sync_cursors"
ACCOUNTS = "accounts"  # the gateway's API accounts: which stores each one owns
API_KEYS = "api_keys"  # hashed API keys of the accounts, by their public key id
# The gateway's idempotency keys with each first result, by account + key digest. Its
# expiry index (TTL where the server has one) is made by the gateway's adapter.
IDEMPOTENCY_KEYS = "idempotency_keys"
# The web inbox's sign-in sessions, by the digest of the cookie's secret (never the
# secret, never the API key): ``_id`` lookups only.
WEB_SESSIONS = "web_sessions"


# --- one owner per collection ---------------------------------------------------------
#
# Every collection (and GridFS bucket: its ``.files`` and ``.chunks``) is written by
# exactly one service, its owner; any other service reads it, or asks the owner with a
# command (conversation.commands, ingest.commands). tests/unit/store/test_collection_owners.py
# reads every service's code for the collections it writes (tests/support/ownership.py)
# and fails on a write to a collection that is not declared here or not the writer's.
# Index management is schema, not data: every service ensures the indexes it reads by.

GATEWAY, INGEST, NORMALIZER, RESPONDER, INVOICER = (
    "gateway",
    "ingest",
    "normalizer",
    "responder",
    "invoicer",
)


def _bucket(name: str) -> tuple[str, str]:
    return f"{name}.files", f"{name}.chunks"


def outbox_of(service: str) -> str:
    """A service's transactional outbox (parley_platform.outbox): its own, always."""
    return f"outbox_{service}"


OWNERS: dict[str, str] = {
    # The conversation read model: the normalizer (but see FIELD_OWNERS).
    DISCUSSIONS: NORMALIZER,
    MESSAGES: NORMALIZER,
    CUSTOMERS: NORMALIZER,
    "pending_events": NORMALIZER,  # its events' outbox (parley_normalizer.adapters.mongo_store)
    # Replies: the responder. The gateway reads deliveries and asks for a retry by command.
    DELIVERIES: RESPONDER,
    "delivery_queue": RESPONDER,
    "prepared_replies": RESPONDER,
    "conversation_usage": RESPONDER,
    "autoresponse_copies": RESPONDER,
    # Marketplace connections, their credentials and the OAuth refresh locks: ingest.
    CONNECTIONS: INGEST,
    CONNECTION_KEYS: INGEST,
    INBOUND_ADDRESSES: INGEST,
    "connection_claims": INGEST,
    REFRESH_LOCKS: INGEST,
    SYNC_CURSORS: INGEST,
    # Attachments ingest downloads; files merchants upload (the gateway's own bucket).
    **dict.fromkeys((*_bucket(BUCKET), FILE_KEYS), INGEST),
    **dict.fromkeys((*_bucket(UPLOADS_BUCKET), UPLOAD_KEYS), GATEWAY),
    # The API's accounts, keys, idempotency records and the autoresponder settings.
    ACCOUNTS: GATEWAY,
    API_KEYS: GATEWAY,
    IDEMPOTENCY_KEYS: GATEWAY,
    WEB_SESSIONS: GATEWAY,
    AUTORESPONDERS: GATEWAY,
    # Invoices (parley_invoicer.adapters.mongo).
    **dict.fromkeys(
        (
            "invoice_series",
            "invoice_claims",
            "invoices",
            "invoice_intents",
            "invoice_files",
            "invoice_settings",
            *_bucket("invoice_pdfs"),
        ),
        INVOICER,
    ),
    **{outbox_of(s): s for s in (GATEWAY, NORMALIZER, RESPONDER, INGEST)},
}

# A collection whose documents are split by field between two writers, each field
# having one: the discussion's workflow fields (documents.WORKFLOW_FIELDS: status,
# read, tags, merchant ticket id) are the gateway's, written with a conditional
# ``$set`` of those fields only; the normalizer writes them on creation only (and
# ``read`` when a buyer writes). (collection, service) → why.
FIELD_OWNERS: dict[tuple[str, str], str] = {
    (DISCUSSIONS, GATEWAY): "the workflow fields (documents.WORKFLOW_FIELDS)",
}


def _by_store_listed(field: str | None = None) -> IndexModel:
    """store_id, then ``field`` if any, then the list order (last message, newest first)."""
    equal = [("store_id", ASCENDING)] + ([(field, ASCENDING)] if field else [])
    name = f"store_{field}_last_message" if field else "store_last_message"
    return IndexModel([*equal, ("last_message_at", DESCENDING), ("_id", DESCENDING)], name=name)


_INDEXES: dict[str, list[IndexModel]] = {
    DISCUSSIONS: [
        IndexModel([("key", ASCENDING)], unique=True, name="key_unique"),
        # The list (parley_gateway's list_query): equality on the store, then on at most
        # one filtered field, then the list order, so each page is read from the index in
        # order (no in-memory sort). since/until ranges and cursors are on the order keys;
        # the counts ($match + $group by status) use store_status_last_message's prefix.
        _by_store_listed(),
        _by_store_listed("marketplace"),
        _by_store_listed("status"),
        _by_store_listed("read"),
        _by_store_listed("type"),
        _by_store_listed("order_id"),
        # The tag filter (multikey: one key per tag); several tags ($all) seek the first.
        _by_store_listed("tags"),
        # The orders, offers and products a discussion is about (multikey: one key per
        # entity); the list order is on plain fields, so pages still come in index order.
        IndexModel(
            [
                ("store_id", ASCENDING),
                ("entities.id", ASCENDING),
                ("last_message_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="store_entity_last_message",
        ),
        # "Contains" filters (case-insensitive regex) cannot seek, but they scan these
        # (multikey) index keys within the caller's stores rather than whole documents.
        IndexModel(
            [("store_id", ASCENDING), ("participants.name", ASCENDING)],
            name="store_participant_name",
        ),
        IndexModel(
            [("store_id", ASCENDING), ("participants.email", ASCENDING)],
            name="store_participant_email",
        ),
        IndexModel([("store_id", ASCENDING), ("subject", ASCENDING)], name="store_subject"),
        # What is due first: the reply_due_before filter and the "at risk" count.
        IndexModel([("store_id", ASCENDING), ("reply_due_at", ASCENDING)], name="store_reply_due"),
        IndexModel([("store_id", ASCENDING), ("customer_id", ASCENDING)], name="store_customer"),
        # The retention sweeper: what has expired, and whose status changed unseen.
        IndexModel([("expires_at", ASCENDING)], name="expires_at"),
        IndexModel(
            [("status", ASCENDING), ("retention_status", ASCENDING)], name="retention_review"
        ),
    ],
    # A discussion's messages in order (gateway, responder). The normalizer reads and
    # writes messages by _id only (ids derived from natural keys), so it needs none.
    MESSAGES: [
        IndexModel([("discussion_id", ASCENDING), ("sent_at", ASCENDING)], name="discussion_time"),
    ],
    DELIVERIES: [IndexModel([("state", ASCENDING)], name="state")],
    API_KEYS: [IndexModel([("account_id", ASCENDING)], name="account")],
    # The list of a caller's autoresponders, by store (the _id is the key itself).
    AUTORESPONDERS: [IndexModel([("store_id", ASCENDING)], name="store")],
    CUSTOMERS: [
        IndexModel(
            [
                ("store_id", ASCENDING),
                ("marketplace", ASCENDING),
                ("marketplace_customer_id", ASCENDING),
            ],
            unique=True,
            name="store_marketplace_customer_unique",
        )
    ],
}


# Replaced by the indexes above: dropped where they still exist (each costs every write).
_OBSOLETE: dict[str, list[str]] = {
    DISCUSSIONS: ["store_marketplace", "store_status", "store_read", "store_type", "store_order"],
    # The normalizer's old per-record lookups (de-duplication by marketplace id, pending
    # events by discussion): it now keeps that state on the discussion, read by _id.
    MESSAGES: ["discussion_marketplace_message", "command", "event_pending"],
}


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    """Idempotent; every service that reads or writes a collection calls it at start-up."""
    for collection, indexes in _INDEXES.items():
        await create_missing_indexes(db, collection, indexes)
    for collection, names in _OBSOLETE.items():
        existing = set(await db[collection].index_information())
        for name in sorted(existing.intersection(names)):
            with contextlib.suppress(OperationFailure):  # another service dropped it first
                await db[collection].drop_index(name)


async def create_missing_indexes(
    db: AsyncDatabase[Any], collection: str, indexes: list[IndexModel]
) -> None:
    """Creates only the indexes that do not exist yet, by name.

    Re-issuing ``createIndexes`` for existing indexes is a no-op on MongoDB but makes
    FerretDB v1.24 drop the connection, so existing names are skipped.
    """
    existing = set(await db[collection].index_information())
    missing = [ix for ix in indexes if ix.document["name"] not in existing]
    if missing:
        await db[collection].create_indexes(missing)
