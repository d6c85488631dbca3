"""The ledger in MongoDB (FerretDB v1 locally): unique ``_id`` inserts and reads by ``_id``.

FerretDB v1 runs ``update``/``findAndModify`` as read-modify-write and pushes down only
``{_id: value}`` filters, so nothing here relies on an atomic update: decisions are
inserts (a ``DuplicateKeyError`` names the winner, read back by ``_id``), updates only
write what every writer would write alike. Collections:

- ``invoice_series`` ``{_id: <series>, next}``: the hint (may lag);
- ``invoice_claims`` ``{_id: "<series>:<n>", series, sequence, number, order_key,
  issue_date, request, claimed_at, voided?}``: one per number ever handed out;
- ``invoices`` ``{_id: <document key>, ...claim fields, kind, store_id, marketplace,
  order_id, discussion_id, file_id?}``: the document key is the order's for an invoice,
  the refund's for a credit note; the listing fields are read by the listings;
- ``invoice_intents`` ``{_id: <order key>, token, at}`` (deleted by its request if it
  fails before binding);
- the PDFs in Parley's file storage layout, GridFS, in the invoicer's own bucket
  ``invoice_pdfs`` (``invoice_pdfs.files`` / ``invoice_pdfs.chunks``; the shared
  ``files`` bucket of ``parley_store.files`` belongs to attachments), and
  ``invoice_files`` ``{_id: <document key>, file_id}`` naming the one kept per document.
  As in ``parley_store.files``: chunks, then the file document, then the key document
  (first insert wins, a loser deletes its upload); chunk ids are derived from the file
  id, so a read is by ``_id`` only (FerretDB v1 pushes nothing else down);
- ``invoice_settings`` ``{_id: <store id>, settings, updated_at}``: each store's invoice
  settings as last saved.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from bson import Binary, ObjectId
from bson.errors import InvalidId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parley_invoicer.numbering import claim_id
from parley_invoicer.ports import (
    Claim,
    DocumentQuery,
    Intent,
    InvoiceRecord,
    StoredPdf,
    listing_fields,
)

SERIES = "invoice_series"
CLAIMS = "invoice_claims"
INVOICES = "invoices"
INTENTS = "invoice_intents"
FILES = "invoice_files"
BUCKET = "invoice_pdfs"
SETTINGS = "invoice_settings"
COLLECTIONS = (
    SERIES,
    CLAIMS,
    INVOICES,
    INTENTS,
    FILES,
    f"{BUCKET}.files",
    f"{BUCKET}.chunks",
    SETTINGS,
)
PDF = "application/pdf"
CHUNK_SIZE = 255 * 1024  # GridFS's default


class MongoInvoiceLedger:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._series = db[SERIES]
        self._claims = db[CLAIMS]
        self._invoices = db[INVOICES]
        self._intents = db[INTENTS]
        self._files = db[FILES]
        self._gridfs_files = db[f"{BUCKET}.files"]
        self._chunks = db[f"{BUCKET}.chunks"]

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
                    **listing_fields(record.request),
                }
            )
        except DuplicateKeyError:
            winner = await self.find(record.order_key)
            assert winner is not None  # bindings are never deleted
            return winner
        return record

    async def find(self, order_key: str) -> InvoiceRecord | None:
        doc = await self._invoices.find_one({"_id": order_key})
        return None if doc is None else _record(doc)

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
        existing = await self._files.find_one({"_id": order_key})
        if existing is not None:
            return await self._kept(existing)
        file_id = await self._upload(f"{number}.pdf", pdf, {"key": order_key, "number": number})
        try:
            await self._files.insert_one({"_id": order_key, "file_id": str(file_id)})
        except DuplicateKeyError:  # stored by another process meanwhile: theirs is kept
            await self._delete(file_id, len(pdf))
            winner = await self._files.find_one({"_id": order_key})
            assert winner is not None  # key documents are never deleted
            return await self._kept(winner)
        return StoredPdf(str(file_id), pdf)

    async def _kept(self, doc: dict[str, Any]) -> StoredPdf:
        if "file_id" not in doc:  # stored inline before the GridFS bucket (its id: the key)
            return StoredPdf(str(doc["_id"]), bytes(doc["content"]))
        return StoredPdf(str(doc["file_id"]), await self.load_pdf(str(doc["file_id"])))

    async def _upload(self, name: str, content: bytes, metadata: dict[str, str]) -> ObjectId:
        """The GridFS layout, chunks first (a file document never names missing chunks)."""
        file_id = ObjectId()
        chunks = [
            {
                "_id": _chunk_id(file_id, n),
                "files_id": file_id,
                "n": n,
                "data": Binary(content[start : start + CHUNK_SIZE]),
            }
            for n, start in enumerate(range(0, len(content), CHUNK_SIZE))
        ]
        if chunks:
            await self._chunks.insert_many(chunks, ordered=True)
        now = datetime.now(UTC)
        await self._gridfs_files.insert_one(
            {
                "_id": file_id,
                "length": len(content),
                "chunkSize": CHUNK_SIZE,
                "uploadDate": now.replace(microsecond=now.microsecond // 1000 * 1000),
                "filename": name,
                "metadata": {"content_type": PDF, **metadata},
            }
        )
        return file_id

    async def _delete(self, file_id: ObjectId, length: int) -> None:
        await self._gridfs_files.delete_one({"_id": file_id})
        for n in range(-(-length // CHUNK_SIZE)):
            await self._chunks.delete_one({"_id": _chunk_id(file_id, n)})

    async def load_pdf(self, file_id: str) -> bytes:
        try:
            oid = ObjectId(file_id)
        except InvalidId:
            # Invoices stored before the GridFS bucket: the PDF inline, its id the key.
            inline = await self._files.find_one({"_id": file_id})
            if inline is None or "content" not in inline:
                raise LookupError(f"no stored invoice file {file_id!r}") from None
            return bytes(inline["content"])
        doc = await self._gridfs_files.find_one({"_id": oid})
        if doc is None:
            raise LookupError(f"no stored invoice file {file_id!r}")
        length, size = int(doc["length"]), int(doc["chunkSize"])
        parts = []
        for n in range(-(-length // size)):
            chunk = await self._chunks.find_one({"_id": _chunk_id(oid, n)})
            if chunk is None:
                raise LookupError(f"invoice file {file_id!r} misses chunk {n}")
            parts.append(bytes(chunk["data"]))
        content = b"".join(parts)
        if len(content) != length:
            raise LookupError(f"invoice file {file_id!r} is truncated")
        return content

    async def mark_stored(self, order_key: str, file_id: str) -> None:
        await self._invoices.update_one({"_id": order_key}, {"$set": {"file_id": file_id}})

    async def documents(self, query: DocumentQuery) -> list[InvoiceRecord]:
        wanted = {k: v for k, v in vars(query).items() if v is not None}
        docs = [doc async for doc in self._invoices.find(wanted)]
        records = [_record(doc) for doc in docs]
        return sorted(records, key=lambda r: (r.series_key, r.sequence))


class MongoSettingsStore:
    """Invoice settings per store: the last write wins (a merchant editing a form)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._settings = db[SETTINGS]

    async def get(self, store_id: str) -> dict[str, Any] | None:
        doc = await self._settings.find_one({"_id": store_id})
        return dict(doc["settings"]) if doc else None

    async def put(self, store_id: str, settings: dict[str, Any]) -> None:
        await self._settings.replace_one(
            {"_id": store_id},
            {"settings": settings, "updated_at": datetime.now(UTC)},
            upsert=True,
        )


def _chunk_id(file_id: ObjectId, n: int) -> ObjectId:
    """Chunk ``n`` of a file, derived from the file id (as in ``parley_store.files``)."""
    return ObjectId(hashlib.sha256(file_id.binary + n.to_bytes(8, "big")).digest()[:12])


def _record(doc: dict[str, Any]) -> InvoiceRecord:
    return InvoiceRecord(
        order_key=str(doc["_id"]),
        series_key=doc["series"],
        sequence=int(doc["sequence"]),
        number=doc["number"],
        issue_date=date.fromisoformat(doc["issue_date"]),
        request=doc["request"],
        file_id=doc.get("file_id"),
    )


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
