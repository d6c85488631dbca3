"""The discussions' list indexes on the real server: created once, the ones they
replaced dropped (each index costs every write), idempotent across service starts."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from parley_store import DISCUSSIONS, ensure_indexes
from parley_store.collections import _INDEXES, _OBSOLETE


async def test_list_indexes_replace_the_old_ones(mongo_db: AsyncDatabase[Any]) -> None:
    old = [
        IndexModel([("store_id", ASCENDING), (f, ASCENDING)], name=f"store_{f}")
        for f in (
            "status",
            "marketplace",
        )
    ]
    await mongo_db[DISCUSSIONS].create_indexes(old)

    await ensure_indexes(mongo_db)
    await ensure_indexes(mongo_db)  # a second service starting

    names = set(await mongo_db[DISCUSSIONS].index_information())
    assert {ix.document["name"] for ix in _INDEXES[DISCUSSIONS]} <= names
    assert not names & set(_OBSOLETE[DISCUSSIONS])
