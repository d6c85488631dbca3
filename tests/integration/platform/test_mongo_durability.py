"""Every client writes with ``w: majority`` and the journal, and the server takes it.

FerretDB speaks the MongoDB wire protocol; a write concern it refused would fail
every write of every service, so this writes through :func:`connect` for real.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.mongo import MongoDurability, connect

pytestmark = pytest.mark.integration


async def test_writes_are_majority_and_journalled_and_the_server_accepts_them(
    mongo_uri: str, mongo_db: AsyncDatabase[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONGODB_WRITE_CONCERN", raising=False)
    monkeypatch.delenv("MONGODB_JOURNAL", raising=False)
    client, db = connect(mongo_uri, mongo_db.name, "durability-test")
    try:
        assert db.write_concern.document == {"w": "majority", "j": True}
        key = uuid.uuid4().hex
        result = await db.durable.insert_one({"_id": key, "n": 1})
        assert result.acknowledged
        await db.durable.update_one({"_id": key}, {"$set": {"n": 2}})
        assert await db.durable.find_one({"_id": key}) == {"_id": key, "n": 2}
    finally:
        await client.close()


def test_the_write_concern_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_WRITE_CONCERN", "2")
    monkeypatch.setenv("MONGODB_JOURNAL", "false")
    assert MongoDurability().client_options() == {"w": 2, "journal": False}
    monkeypatch.setenv("MONGODB_WRITE_CONCERN", "all-of-them")
    with pytest.raises(ValueError, match="write_concern"):
        MongoDurability()
