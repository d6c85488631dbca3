"""The ledger in dicts: the fake the unit tests drive, and a single process's store.

Each method runs without awaiting, so on one event loop every insert is atomic, as a
unique ``_id`` insert is on MongoDB. Numbers restart with the process: not for invoices
that count legally.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from parley_invoicer.numbering import claim_id
from parley_invoicer.ports import (
    Claim,
    DocumentQuery,
    Intent,
    InvoiceRecord,
    StoredPdf,
    listing_fields,
)


class InMemoryInvoiceLedger:
    def __init__(self) -> None:
        self.hints: dict[str, int] = {}
        self.claimed: dict[str, Claim] = {}
        self.records: dict[str, InvoiceRecord] = {}
        self.intents: dict[str, Intent] = {}
        self.files: dict[str, bytes] = {}

    async def hint(self, series_key: str) -> int:
        return self.hints.get(series_key, 1)

    async def raise_hint(self, series_key: str, next_sequence: int) -> None:
        self.hints[series_key] = max(self.hints.get(series_key, 1), next_sequence)

    async def claim(self, claim: Claim) -> bool:
        return self.claimed.setdefault(claim_id(claim.series_key, claim.sequence), claim) is claim

    async def claims(self, series_key: str) -> list[Claim]:
        found = [c for c in self.claimed.values() if c.series_key == series_key]
        return sorted(found, key=lambda c: c.sequence)

    async def series_keys(self) -> list[str]:
        return sorted(self.hints)

    async def void(self, series_key: str, sequence: int, reason: str) -> None:
        key = claim_id(series_key, sequence)
        self.claimed[key] = replace(self.claimed[key], voided=reason)

    async def bind(self, record: InvoiceRecord) -> InvoiceRecord:
        return self.records.setdefault(record.order_key, record)

    async def find(self, order_key: str) -> InvoiceRecord | None:
        return self.records.get(order_key)

    async def intend(self, order_key: str, intent: Intent) -> Intent:
        return self.intents.setdefault(order_key, intent)

    async def release(self, order_key: str, token: str) -> None:
        if (intent := self.intents.get(order_key)) is not None and intent.token == token:
            del self.intents[order_key]

    async def save_pdf(self, order_key: str, number: str, pdf: bytes) -> StoredPdf:
        return StoredPdf(order_key, self.files.setdefault(order_key, pdf))

    async def load_pdf(self, file_id: str) -> bytes:
        return self.files[file_id]

    async def mark_stored(self, order_key: str, file_id: str) -> None:
        self.records[order_key] = replace(self.records[order_key], file_id=file_id)

    async def documents(self, query: DocumentQuery) -> list[InvoiceRecord]:
        found = [r for r in self.records.values() if query.matches(listing_fields(r.request))]
        return sorted(found, key=lambda r: (r.series_key, r.sequence))


class InMemorySettingsStore:
    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    async def get(self, store_id: str) -> dict[str, Any] | None:
        return self.saved.get(store_id)

    async def put(self, store_id: str, settings: dict[str, Any]) -> None:
        self.saved[store_id] = settings
