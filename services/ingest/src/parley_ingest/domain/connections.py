"""A connection: one store's access to one marketplace instance, and its sync cursor.

The first cursor is the activation time (F3): only threads with activity after
the merchant connected the marketplace are pulled, never the whole history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class ConnectionHealth(StrEnum):
    OK = "ok"
    NEEDS_ATTENTION = "needs_attention"  # credentials refused: a person must act


@dataclass(frozen=True)
class Connection:
    id: str
    store_id: str
    family: str
    marketplace: str
    base_url: str
    credentials: dict[str, str] = field(repr=False)
    activated_at: datetime
    cursor: datetime
    interval_seconds: int = 300
    messaging_enabled: bool = True
    health: ConnectionHealth = ConnectionHealth.OK
    health_reason: str | None = None
    next_sync_at: datetime | None = None
    options: dict[str, str] = field(default_factory=dict)
    lease_ids: tuple[str, ...] = ()  # the claims this instance holds for the sync lease
    lease_deadline: datetime | None = None  # the lease ends here; the sync must stop

    def advanced_to(self, cursor: datetime) -> Connection:
        """Cursors only move forward, so a late page never rewinds the sync."""
        return replace(self, cursor=max(self.cursor, cursor))


def next_run(now: datetime, interval_seconds: int, jitter_ratio: float = 0.1) -> datetime:
    """Spreads connections with the same interval so they do not all poll at once."""
    jitter = random.uniform(0, interval_seconds * jitter_ratio)
    return now + timedelta(seconds=interval_seconds + jitter)


def backoff_run(now: datetime, failures: int, cap_seconds: int = 1800) -> datetime:
    """Exponential backoff with jitter after a marketplace fault."""
    delay = min(cap_seconds, 5 * 2 ** max(0, failures - 1))
    return now + timedelta(seconds=random.uniform(delay / 2, delay))
