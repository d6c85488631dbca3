"""In-memory fakes of the gateway's invoice ports: the invoicer (parley_gateway.ports.
Invoicer) and an upload store that keeps one file per key, as GridFsFileStore does.

The fake invoicer keeps the real one's promises the gateway relies on: one invoice per
order (the same number and bytes again, ``created`` False), one credit note per refund
id and only for an invoiced order (409), 404 for settings never saved, a 422
naming ``#/settings`` when an order comes without saved settings, and listings by
discussion. ``down`` makes every call raise InvoicerUnavailable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from parley_gateway.ports import InvoicerRefused, InvoicerUnavailable, IssuedDocument
from parley_store import FileDownload, FileInfo, FileNotStored


def _problem(status: int, detail: str, **fields: str) -> dict[str, Any]:
    errors = [{"pointer": p, "detail": d, "code": "invalid"} for p, d in fields.items()]
    return {"type": "about:blank", "title": "Refused", "status": status, "detail": detail} | (
        {"errors": errors} if errors else {}
    )


@dataclass
class FakeInvoicer:
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → listed doc
    files: dict[str, bytes] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)  # every order received
    down: bool = False

    def _up(self) -> None:
        if self.down:
            raise InvoicerUnavailable("the invoicer is unreachable")

    async def get_settings(self, store_id: str) -> dict[str, Any] | None:
        self._up()
        return self.settings.get(store_id)

    async def put_settings(self, store_id: str, settings: dict[str, Any]) -> dict[str, Any]:
        self._up()
        if "seller" not in settings:
            raise InvoicerRefused(422, _problem(422, "invalid", **{"#/seller": "required"}))
        self.settings[store_id] = settings
        return settings

    async def issue_invoice(self, order: dict[str, Any]) -> IssuedDocument:
        self._up()
        self.orders.append(order)
        if order["store_id"] not in self.settings:
            raise InvoicerRefused(
                422, _problem(422, "The request misses #/settings", **{"#/settings": "not saved"})
            )
        if order.get("currency") == "XXX":
            raise InvoicerRefused(
                422, _problem(422, "1 invalid field", **{"#/order/currency": "unknown currency"})
            )
        key = f"{order['store_id']}:{order['marketplace']}:{order['order_id']}"
        return self._issue(key, "invoice", order, prefix="FA")

    async def issue_credit_note(self, refund: dict[str, Any]) -> IssuedDocument:
        self._up()
        order_key = f"{refund['store_id']}:{refund['marketplace']}:{refund['order_id']}"
        if order_key not in self.documents:
            raise InvoicerRefused(409, _problem(409, f"order {refund['order_id']} not invoiced"))
        return self._issue(f"{order_key}:refund:{refund['refund_id']}", "credit_note", refund, "AV")

    def _issue(self, key: str, kind: str, request: dict[str, Any], prefix: str) -> IssuedDocument:
        known = self.documents.get(key)
        if known is None:
            number = f"{prefix}-2026-{len(self.documents) + 1:06d}"
            file_id = f"{len(self.files) + 1:024x}"
            self.files[file_id] = f"%PDF-1.7 {number}".encode()
            known = self.documents[key] = {
                "number": number,
                "kind": kind,
                "issue_date": "2026-06-01",
                "store_id": request["store_id"],
                "marketplace": request["marketplace"],
                "order_id": request["order_id"],
                "discussion_id": request.get("discussion_id"),
                "currency": request.get("currency", "EUR"),
                "total_incl_vat": "12.00",
                "file_id": file_id,
                "corrects": None,
            }
            created = True
        else:
            created = False
        file_id = known["file_id"]
        return IssuedDocument(known["number"], kind, file_id, created, self.files[file_id])

    async def documents_of(self, discussion_id: str) -> list[dict[str, Any]]:
        self._up()
        return [d for d in self.documents.values() if d["discussion_id"] == discussion_id]

    async def pdf(self, file_id: str) -> bytes:
        self._up()
        if file_id not in self.files:
            raise InvoicerRefused(404, _problem(404, f"no file {file_id}"))
        return self.files[file_id]


@dataclass
class KeyedUploads:
    """The gateway's UploadStore: one file per key (a repeat answers the first id)."""

    files: dict[str, tuple[FileInfo, bytes]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    async def save(
        self, key: str, name: str, content_type: str, content: bytes, **metadata: str
    ) -> str:
        if key in self.keys:
            return self.keys[key]
        file_id = f"{len(self.files) + 1:024x}"
        info = FileInfo(file_id, name, content_type, len(content), metadata.get("store_id"))
        self.files[file_id] = (info, content)
        self.keys[key] = file_id
        return file_id

    async def describe(self, file_id: str) -> FileInfo | None:
        found = self.files.get(file_id)
        return found[0] if found else None

    async def download(self, file_id: str) -> FileDownload:
        if file_id not in self.files:
            raise FileNotStored(file_id)
        info, content = self.files[file_id]

        async def chunks() -> AsyncIterator[bytes]:
            yield content

        return FileDownload(file_id, info.name, info.content_type, info.size, chunks())
