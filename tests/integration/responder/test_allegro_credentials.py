"""The responder reads a connection's credentials as ingest saved them, and writes none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.crypto import CredentialCipher
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_store import CONNECTIONS
from parley_store.connections import CONNECTION_KEYS, connection_key_id

pytestmark = pytest.mark.integration

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


async def test_credentials_are_read_as_ingest_last_saved_them(mongo_db: AsyncDatabase[Any]) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    original = {"client_id": "app", "client_secret": "s3", "refresh_token": "rt-1"}
    await mongo_db[CONNECTIONS].insert_one(
        {
            "_id": "c-allegro",
            "store_id": "s1",
            "family": "allegro",
            "marketplace": "allegro-pl",
            "base_url": "http://127.0.0.1:1/allegro",
            "credentials": cipher.encrypt(original),
            "activated_at": NOW,
            "cursor": NOW,
            "messaging_enabled": True,
            "options": {},
        }
    )
    # Ingest writes the (store, marketplace) key document with the connection.
    await mongo_db[CONNECTION_KEYS].insert_one(
        {"_id": connection_key_id("s1", "allegro-pl"), "connection_id": "c-allegro"}
    )
    lookup = MongoDestinationLookup(mongo_db, cipher)

    destination = await lookup.find("s1", "allegro-pl")
    assert destination is not None and destination.connection_id == "c-allegro"
    assert destination.credentials == original
    # Ingest (the credentials' one writer) rotates the tokens: the responder reads
    # the latest on every load.
    rotated = {**original, "refresh_token": "rt-2-rotated", "access_token": "at-2"}
    await mongo_db[CONNECTIONS].update_one(
        {"_id": "c-allegro"}, {"$set": {"credentials": cipher.encrypt(rotated)}}
    )
    assert await lookup.load_credentials("c-allegro") == rotated
    assert await lookup.load_credentials("missing") is None
    again = await lookup.find("s1", "allegro-pl")
    assert again is not None and again.credentials == rotated
    assert not hasattr(lookup, "save_credentials"), "the responder writes no credentials"
