"""Reads ingest's ``connections`` collection (the gateway never writes it)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from parley_store import CONNECTIONS, ConnectionDocument

# Everything but the encrypted credentials: they never even reach the gateway's memory.
_PROJECTION = {"credentials": 0}


class MongoConnectionReader:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[CONNECTIONS]

    async def list(self, store_ids: frozenset[str] | None) -> list[ConnectionDocument]:
        query: dict[str, Any] = {}
        if store_ids is not None:
            query["store_id"] = {"$in": sorted(store_ids)}
        cursor = self._col.find(query, _PROJECTION).sort(
            [("store_id", ASCENDING), ("marketplace", ASCENDING), ("_id", ASCENDING)]
        )
        return [
            ConnectionDocument.model_validate({**doc, "credentials": ""}) async for doc in cursor
        ]
