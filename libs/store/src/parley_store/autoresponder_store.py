"""MongoDB persistence of autoresponder settings (collection ``autoresponders``).

The document ``_id`` is the key ``store:marketplace:channel``, so there is at most one
setting per key without a unique index, and a save is one atomic replace (upsert): the
last writer wins whole, never a mix of two edits. The gateway owns the collection
(:class:`MongoAutoresponderStore`, its one writer); the responder reads it through
:class:`MongoAutoresponderReader`, which has no write, which is why both live in the
store library.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .autoresponders import AUTORESPONDERS, AutoresponderKey, AutoresponderSettings


class MongoAutoresponderReader:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._col = db[AUTORESPONDERS]

    async def get(self, key: AutoresponderKey) -> AutoresponderSettings | None:
        doc = await self._col.find_one({"_id": key.id})
        return AutoresponderSettings.model_validate(doc) if doc else None

    async def list(self, store_ids: Iterable[str] | None) -> list[AutoresponderSettings]:
        """Every saved setting of these stores (``None``: of every store), in key order."""
        query: dict[str, Any] = {} if store_ids is None else {"store_id": {"$in": list(store_ids)}}
        cursor = self._col.find(query).sort(
            [("store_id", ASCENDING), ("marketplace", ASCENDING), ("channel", ASCENDING)]
        )
        return [AutoresponderSettings.model_validate(doc) async for doc in cursor]


class MongoAutoresponderStore(MongoAutoresponderReader):
    """The collection's one writer: the gateway."""

    async def save(self, settings: AutoresponderSettings) -> None:
        doc = settings.model_dump(mode="python")
        await self._col.replace_one(
            {"_id": settings.key.id}, {"_id": settings.key.id, **doc}, upsert=True
        )
