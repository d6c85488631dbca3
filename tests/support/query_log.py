"""Which queries a flow sends to the MongoDB-compatible server, and by what filter.

FerretDB v1 (the embedded server) pushes down only a filter that is exactly
``{_id: value}`` on SQLite (top-level scalar equality too on PostgreSQL); any other
filter reads and decodes the whole collection. The hot paths therefore read and write
one record by ``_id``. :class:`QueryLog` is a ``pymongo.monitoring.CommandListener``
that records the filter of every read, update and delete a client sends, so a test
can run a flow on a client of its own and assert that each filter is by ``_id``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase


@dataclass(frozen=True)
class Query:
    command: str  # find, update, delete, findAndModify, count, aggregate, distinct
    collection: str
    filter: dict[str, Any] | None  # None: a pipeline or a whole-collection command
    limit: int | None = None

    def by_id(self) -> bool:
        """Exactly ``{_id: <scalar>}``: what every server serves from its primary key."""
        if self.filter is None or set(self.filter) != {"_id"}:
            return False
        return not isinstance(self.filter["_id"], dict | list)

    def by_id_with_guards(self, allowed: set[str]) -> bool:
        """``_id`` equality plus only the named guard keys (conditional writes)."""
        if self.filter is None or "_id" not in self.filter:
            return False
        if isinstance(self.filter["_id"], dict | list):
            return False
        return set(self.filter) - {"_id"} <= allowed


_FILTERED = {"find", "update", "delete", "findAndModify", "count", "aggregate", "distinct"}


class QueryLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self.queries: list[Query] = []
        self.recording = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.recording or event.command_name not in _FILTERED:
            return
        cmd = event.command
        collection = str(cmd[event.command_name])
        name = event.command_name
        if name == "find":
            self.queries.append(
                Query(name, collection, dict(cmd.get("filter", {})), cmd.get("limit"))
            )
        elif name == "update":
            for u in cmd.get("updates", []):
                self.queries.append(Query(name, collection, dict(u["q"])))
        elif name == "delete":
            for d in cmd.get("deletes", []):
                self.queries.append(Query(name, collection, dict(d["q"]), d.get("limit")))
        elif name in ("findAndModify", "count", "distinct"):
            self.queries.append(Query(name, collection, dict(cmd.get("query", {}))))
        else:
            self.queries.append(Query(name, collection, None))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None

    def not_by_id(self, allowed: Callable[[Query], bool] = lambda q: False) -> list[Query]:
        """Every recorded query that is not exactly by ``_id`` and not ``allowed``."""
        return [q for q in self.queries if not q.by_id() and not allowed(q)]


@asynccontextmanager
async def monitored(
    mongo_uri: str, database: str
) -> AsyncIterator[tuple[AsyncDatabase[Any], QueryLog]]:
    """A client of its own on ``database`` whose queries are logged while
    ``log.recording`` is true (set it around the flow under test, after its set-up)."""
    log = QueryLog()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        mongo_uri, tz_aware=True, event_listeners=[log]
    )
    try:
        yield client[database], log
    finally:
        await client.close()
