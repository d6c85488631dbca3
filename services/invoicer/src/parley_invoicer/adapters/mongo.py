"""The ledger in MongoDB (FerretDB v1 locally): unique ``_id`` inserts and reads by ``_id``.

FerretDB v1 runs ``update``/``findAndModify`` as read-modify-write and pushes down only
``{_id: value}`` filters, so nothing here relies on an atomic update: decisions are
inserts (a ``DuplicateKeyError`` names the winner, read back by ``_id``), updates only
write what every writer would write alike. Collections:

- ``invoice_series`` ``{_id: <series>, next}``: the hint (may lag);
- ``invoice_claims`` ``{_id: "<series>:<n>", series, sequence, number, order_key,
  issue_date, request, claimed_at, voided?}``: one per number ever handed out;
- ``invoices`` ``{_id: <store>:<marketplace>:<order>, ...claim fields, file_id?}``;
- ``invoice_intents`` ``{_id: <order key>, token, at}`` (deleted by its request if it
  fails before binding);
- ``invoice_files`` ``{_id: <order key>, number, content_type, content}``: the PDF,
  stored once. (Parley's GridFS file store, ``parley_store.files``, would fit — it keys
  files first-wins too — but the invoicer does not depend on ``parley-store``; a PDF of
  tens of kB fits a document, read back by ``_id`` in one round trip.)
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parley_invoicer.numbering import claim_id
from parley_invoicer.ports import Claim, Intent, InvoiceRecord, StoredPdf

SERIES = "invoice_series"
CLAIMS = "invoice_claims"
INVOICES = "invoices"
INTENTS = "invoice_intents"
FILES = "invoice_files"
COLLECTIONS = (SERIES, CLAIMS, INVOICES, INTENTS, FILES)
PDF = "application/pdf"


class MongoInvoiceLedger:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._series = db[SERIES]
        self._claims = db[CLAIMS]
        self._invoices = db[INVOICES]
        self._intents = db[INTENTS]
        self._files = db[FILES]

    async def hint(self, series_key: str) -> int:
        doc = await self._series.find_one({"_id": series_key})
        return int(doc["next"]) if doc else 1

    async def raise_hint(self, series_key: str, next_sequence: int) -> None:
        try:
            await self._series.update_one(
                {"_id": series_key}, {"$max": {"next": next_sequence}}, upsert=True
            )
        except DuplicateKeyError:  # two first upserts at once: the other one made it
            await self._series.update_one({"_id": series_key}, {"$max": {"next": next_sequence}})

    async def claim(self, claim: Claim) -> bool:
        try:
            await self._claims.insert_one(
                {
                    "_id": claim_id(claim.series_key, claim.sequence),
                    "series": claim.series_key,
                    "sequence": claim.sequence,
                    "number": claim.number,
                    "order_key": claim.order_key,
                    "issue_date": claim.issue_date.isoformat(),
                    "request": claim.request,
                    "claimed_at": claim.claimed_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def claims(self, series_key: str) -> list[Claim]:
        # A filter on a field: a scan on FerretDB v1, fine for audits and the sweep.
        docs = [doc async for doc in self._claims.find({"series": series_key})]
        return sorted((_claim(doc) for doc in docs), key=lambda c: c.sequence)

    async def series_keys(self) -> list[str]:
        return sorted([str(doc["_id"]) async for doc in self._series.find({}, {"_id": 1})])

    async def void(self, series_key: str, sequence: int, reason: str) -> None:
        await self._claims.update_one(
            {"_id": claim_id(series_key, sequence)}, {"$set": {"voided": reason}}
        )

    async def bind(self, record: InvoiceRecord) -> InvoiceRecord:
        try:
            await self._invoices.insert_one(
                {
                    "_id": record.order_key,
                    "series": record.series_key,
                    "sequence": record.sequence,
                    "number": record.number,
                    "issue_date": record.issue_date.isoformat(),
                    "request": record.request,
                }
            )
        except DuplicateKeyError:
            winner = await self.find(record.order_key)
            assert winner is not None  # bindings are never deleted
            return winner
        return record

    async def find(self, order_key: str) -> InvoiceRecord | None:
        doc = await self._invoices.find_one({"_id": order_key})
        if doc is None:
            return None
        return InvoiceRecord(
            order_key=order_key,
            series_key=doc["series"],
            sequence=int(doc["sequence"]),
            number=doc["number"],
            issue_date=date.fromisoformat(doc["issue_date"]),
            request=doc["request"],
            file_id=doc.get("file_id"),
        )

    async def intend(self, order_key: str, intent: Intent) -> Intent:
        try:
            await self._intents.insert_one(
                {"_id": order_key, "token": intent.token, "at": intent.at}
            )
        except DuplicateKeyError:
            doc = await self._intents.find_one({"_id": order_key})
            if doc is None:  # intents are never deleted; defensive only
                return intent
            return Intent(doc["token"], doc["at"])
        return intent

    async def release(self, order_key: str, token: str) -> None:
        # One delete, matched on the token too: another request's intent is left alone.
        await self._intents.delete_one({"_id": order_key, "token": token})

    async def save_pdf(self, order_key: str, number: str, pdf: bytes) -> StoredPdf:
        try:
            await self._files.insert_one(
                {"_id": order_key, "number": number, "content_type": PDF, "content": Binary(pdf)}
            )
        except DuplicateKeyError:
            return StoredPdf(order_key, await self.load_pdf(order_key))
        return StoredPdf(order_key, pdf)

    async def load_pdf(self, file_id: str) -> bytes:
        doc = await self._files.find_one({"_id": file_id})
        if doc is None:
            raise LookupError(f"no stored invoice file {file_id!r}")
        return bytes(doc["content"])

    async def mark_stored(self, order_key: str, file_id: str) -> None:
        await self._invoices.update_one({"_id": order_key}, {"$set": {"file_id": file_id}})


def _claim(doc: dict[str, Any]) -> Claim:
    return Claim(
        series_key=doc["series"],
        sequence=int(doc["sequence"]),
        number=doc["number"],
        order_key=doc["order_key"],
        issue_date=date.fromisoformat(doc["issue_date"]),
        request=doc["request"],
        claimed_at=doc["claimed_at"],
        voided=doc.get("voided"),
    )
