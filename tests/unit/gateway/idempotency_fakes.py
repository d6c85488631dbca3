"""An in-memory IdempotencyStore with the same claim semantics as the Mongo adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from parley_gateway.domain.idempotency import IdempotencyRecord, StoredResponse
from parley_gateway.idempotency import completed


class InMemoryIdempotencyStore:
    def __init__(self) -> None:
        self.records: dict[str, IdempotencyRecord] = {}
        self.purged_at: list[datetime] = []

    async def insert(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        existing = self.records.get(record.id)
        if existing is not None:
            return existing
        self.records[record.id] = record
        return None

    async def replace_claim(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        current = self.records.get(stale.id)
        if current is None or current.claim != stale.claim:
            return False
        self.records[record.id] = record
        return True

    async def complete(
        self, record_id: str, claim: str, response: StoredResponse, expires_at: datetime
    ) -> None:
        current = self.records.get(record_id)
        if current is not None and current.claim == claim:
            self.records[record_id] = completed(current, response, expires_at)

    async def release(self, record_id: str, claim: str) -> None:
        current = self.records.get(record_id)
        if current is not None and current.claim == claim:
            del self.records[record_id]

    async def purge_expired(self, now: datetime) -> int:
        self.purged_at.append(now)
        expired = [k for k, r in self.records.items() if r.expires_at <= now]
        for key in expired:
            del self.records[key]
        return len(expired)

    def expire_all(self, at: datetime) -> None:
        """Test helper: every record expired at ``at``."""
        self.records = {k: replace(r, expires_at=at) for k, r in self.records.items()}
