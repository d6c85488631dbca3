"""MongoDB access through PyMongo's async API (the successor of Motor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


def connect(
    uri: str, database: str, app_name: str
) -> tuple[AsyncMongoClient[Any], AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri, appname=app_name, tz_aware=True)
    return client, client[database]
