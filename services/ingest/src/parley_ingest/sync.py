"""Syncing one connection: pull changed threads, publish snapshots, move the cursor.

The cursor moves only after every snapshot of the pass is acknowledged by Kafka;
a pass cut short is simply repeated, which the normalizer's deduplication makes
harmless. Marketplace faults never crash the scheduler: they decide when to try
again and, for refused credentials, flag the connection for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from parley_connectors.errors import AuthenticationFailed, MarketplaceUnavailable, RateLimited
from parley_ingest.domain.connections import Connection, ConnectionHealth, backoff_run, next_run
from parley_ingest.ports import ConnectorFactory, MalformedThread, SnapshotSink
from parley_platform.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class SyncOutcome:
    connection: Connection
    next_sync_at: datetime
    failures: int
    published: int = 0
    dead_lettered: int = 0


class SyncService:
    def __init__(self, connectors: ConnectorFactory, sink: SnapshotSink) -> None:
        self._connectors = connectors
        self._sink = sink

    async def sync(self, connection: Connection, now: datetime, failures: int = 0) -> SyncOutcome:
        connector = self._connectors(connection)
        newest = connection.cursor
        published = dead = 0
        try:
            async for item in connector.changes_since(connection.cursor):
                if isinstance(item, MalformedThread):
                    log.warning(
                        "malformed thread dead-lettered",
                        connection_id=connection.id,
                        thread_id=item.thread_id,
                        reason=item.reason,
                    )
                    await self._sink.dead_letter(connection, item)
                    dead += 1
                    continue
                await self._sink.publish(item)
                published += 1
                if item.updated_at is not None:
                    newest = max(newest, item.updated_at)
        except RateLimited as exc:
            log.warning("rate limited", connection_id=connection.id, retry_after=exc.retry_after)
            return SyncOutcome(connection, _after(now, exc.retry_after), failures, published, dead)
        except AuthenticationFailed as exc:
            log.error("credentials refused", connection_id=connection.id, error=str(exc))
            flagged = replace(
                connection,
                health=ConnectionHealth.NEEDS_ATTENTION,
                health_reason=f"the marketplace refused the credentials: {exc}",
            )
            return SyncOutcome(flagged, next_run(now, connection.interval_seconds), 0, published)
        except MarketplaceUnavailable as exc:
            log.warning("marketplace unavailable", connection_id=connection.id, error=str(exc))
            return SyncOutcome(
                connection, backoff_run(now, failures + 1), failures + 1, published, dead
            )
        finally:
            await connector.aclose()
        log.info(
            "connection synced",
            connection_id=connection.id,
            published=published,
            dead_lettered=dead,
            cursor=newest.isoformat(),
        )
        return SyncOutcome(
            connection.advanced_to(newest),
            next_run(now, connection.interval_seconds),
            0,
            published,
            dead,
        )


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=max(1.0, seconds))
