"""Marketplace connections as the merchant sees them (F2, F3): read only.

Ingest owns the ``connections`` collection (activation, credentials, cursor, health);
the gateway only reads it, within the caller's :class:`Scope`, and never lets out
credentials, nor the base URL (whose query string may carry a key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from parley_gateway.domain import Scope
from parley_gateway.ports import ConnectionReader
from parley_store import ConnectionDocument, SyncError, SyncErrorKind


@dataclass(frozen=True)
class LastError:
    kind: SyncErrorKind
    message: str
    at: datetime


@dataclass(frozen=True)
class ConnectionStatus:
    """One store's connection to one marketplace, and how its sync is going."""

    id: str
    store_id: str
    family: str
    marketplace: str
    messaging_enabled: bool
    health: str
    health_reason: str | None
    last_sync_at: datetime | None
    last_error: LastError | None
    consecutive_failures: int
    next_sync_at: datetime | None
    inbound_address: str | None

    @classmethod
    def of(cls, doc: ConnectionDocument) -> ConnectionStatus:
        return cls(
            id=doc.id,
            store_id=doc.store_id,
            family=doc.family,
            marketplace=doc.marketplace,
            messaging_enabled=doc.messaging_enabled,
            health=doc.health,
            health_reason=doc.health_reason,
            last_sync_at=doc.last_sync_at,
            last_error=_error(doc.last_error),
            consecutive_failures=doc.consecutive_failures,
            next_sync_at=doc.next_sync_at,
            inbound_address=(
                doc.options.get("inbound_address") if doc.family == "email_relay" else None
            ),
        )


def _error(error: SyncError | None) -> LastError | None:
    return LastError(error.kind, error.message, error.at) if error is not None else None


class ConnectionService:
    def __init__(self, connections: ConnectionReader) -> None:
        self._connections = connections

    async def list(self, scope: Scope, store_ids: Iterable[str] = ()) -> list[ConnectionStatus]:
        """The connections of the caller's stores (or of the requested ones of them)."""
        stores = scope.narrow(store_ids)
        if stores is not None and not stores:
            return []
        return [ConnectionStatus.of(doc) for doc in await self._connections.list(stores)]
