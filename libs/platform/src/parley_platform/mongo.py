"""MongoDB access through PyMongo's async API (the successor of Motor)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


class MongoDurability(BaseSettings):
    """The write concern every client writes with: ``w: majority`` and journalled.

    A write acknowledged by the primary alone is lost if the primary fails before a
    secondary copied it; the delivery outbox, the pending events and the rotated
    tokens must survive a failover, so every service writes with ``majority`` (the
    write is on most members) and ``j`` (in their journals) unless told otherwise.
    Read from ``MONGODB_WRITE_CONCERN`` (``majority``, or a member count such as
    ``1``) and ``MONGODB_JOURNAL``, so every process, services and CLIs alike, gets
    it without its own plumbing. FerretDB accepts and ignores a write concern (its
    backend commits every write before answering).
    """

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore")

    write_concern: str = Field(
        default="majority",
        pattern=r"^(majority|[0-9]+)$",
        description="w of every write: majority or a number of members",
    )
    journal: bool = Field(default=True, description="j of every write: wait for the journal")

    def client_options(self) -> dict[str, Any]:
        w: str | int = int(self.write_concern) if self.write_concern.isdigit() else "majority"
        return {"w": w, "journal": self.journal and w != 0}


def connect(
    uri: str, database: str, app_name: str, durability: MongoDurability | None = None
) -> tuple[AsyncMongoClient[Any], AsyncDatabase[Any]]:
    """A client and its database; ``durability`` defaults to the environment's
    :class:`MongoDurability` (majority, journalled)."""
    options = (durability or MongoDurability()).client_options()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        uri, appname=app_name, tz_aware=True, **options
    )
    return client, client[database]
