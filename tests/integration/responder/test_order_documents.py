"""Issue 14 on the real store: a Mirakl reply carrying its invoice also files the
invoice on the order (OR74), and the sandbox's OR72 lists it exactly once, whatever
is delivered again: the same command after it settled, a merchant retry of a failed
delivery (a crash mid-upload: tests/unit/responder/test_order_documents.py). A failed
upload is reported with the delivery and sends the message no second time.

Delivery records live in the real MongoDB-compatible server; the marketplace is the
sandbox in process (Mirakl seller API, "Orders": OR74 upload, OR72 list).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_connectors.mirakl.writing import MiraklReplies
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.handlers import Responder, RetryPolicy
from parley_responder.outgoing import ReplyPreparer
from parley_sandbox import create_app
from parley_schemas import (
    DeliveryResult,
    DeliveryState,
    DiscussionKey,
    Envelope,
    InvoiceDocument,
    OrderDocumentState,
    ParticipantRole,
    ReplyCommand,
)
from parley_store import FileInfo, FileNotStored, StoredFile

pytestmark = pytest.mark.integration

INSTANCE = "carrefour"
ORDER = "SBX-INVOICE-1-A"
PDF = b"%PDF-1.7 FA-2026-0001"
INVOICE = FileInfo("inv-1", "FA-2026-0001.pdf", "application/pdf", len(PDF))


class Files:
    """The store's uploaded files: the invoice PDF the gateway attached."""

    def __init__(self, store_id: str) -> None:
        self.info = FileInfo(
            INVOICE.file_id, INVOICE.name, INVOICE.content_type, INVOICE.size, store_id
        )

    async def describe(self, file_id: str) -> FileInfo | None:
        return self.info if file_id == self.info.file_id else None

    async def open(self, file_id: str) -> StoredFile:
        if file_id != self.info.file_id:
            raise FileNotStored(file_id)
        return StoredFile(file_id, self.info.name, self.info.content_type, len(PDF), PDF)


class NoUsage:
    async def attachment_bytes(self, discussion_id: str, excluding_command: str) -> int:
        return 0


class Results:
    def __init__(self) -> None:
        self.results: list[DeliveryResult] = []

    async def emit(self, envelope: Envelope[Any]) -> None:
        self.results.append(envelope.data)


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


async def connected_store(db: AsyncDatabase[Any], cipher: CredentialCipher) -> str:
    store = f"store-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await MongoConnectionRepository(db, cipher).add(
        Connection(
            id=f"c-{store}",
            store_id=store,
            family="mirakl",
            marketplace=INSTANCE,
            base_url=f"http://sandbox/mirakl/{INSTANCE}",
            credentials={"api_key": "sandbox-shop-key"},
            activated_at=now - timedelta(days=1),
            cursor=now - timedelta(days=1),
        )
    )
    return store


def responder(
    db: AsyncDatabase[Any], cipher: CredentialCipher, sandbox: httpx.AsyncClient, store: str
) -> tuple[Responder, Results]:
    async def no_sleep(_: float) -> None:
        return None

    results = Results()
    return (
        Responder(
            MongoDeliveryStore(db),
            MongoDestinationLookup(db, cipher),
            {"mirakl": MiraklReplies(sandbox, timeout=2.0)},
            results,
            RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05),
            sleep=no_sleep,
            preparer=ReplyPreparer(Files(store), NoUsage(), None, "http://parley", 3600),
        ),
        results,
    )


def reply(store: str, thread_id: str, *, retry: int = 0, command_id: str = "") -> ReplyCommand:
    key = DiscussionKey(store_id=store, marketplace=INSTANCE, thread_id=thread_id)
    return ReplyCommand(
        command_id=command_id or uuid.uuid4().hex,
        discussion_id=key.discussion_id,
        store_id=store,
        marketplace=INSTANCE,
        thread_id=thread_id,
        body="Voici votre facture.",
        recipients=[ParticipantRole.CUSTOMER],
        attachment_file_ids=[INVOICE.file_id],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
        retry=retry,
        invoice=InvoiceDocument(file_id=INVOICE.file_id, number="FA-2026-0001", order_id=ORDER),
    )


async def buyer_thread(sandbox: httpx.AsyncClient) -> str:
    answer = await sandbox.post(
        f"/_sandbox/mirakl/{INSTANCE}/messages",
        json={"body": "Ma facture ?", "sender": "CUSTOMER", "order_id": ORDER},
    )
    assert answer.status_code == 201, answer.text
    thread_id: str = answer.json()["thread_id"]
    return thread_id


async def or72(sandbox: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await sandbox.get(
        f"/mirakl/{INSTANCE}/api/orders/documents",
        params={"order_ids": ORDER},
        headers={"Authorization": "sandbox-shop-key"},
    )
    assert answer.status_code == 200, answer.text
    documents: list[dict[str, Any]] = answer.json()["order_documents"]
    return documents


async def shop_replies(sandbox: httpx.AsyncClient) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = (
        await sandbox.get(f"/_sandbox/mirakl/{INSTANCE}/replies")
    ).json()["replies"]
    return replies


async def arm(sandbox: httpx.AsyncClient, operations: Sequence[str], **fault: Any) -> None:
    armed = await sandbox.post(
        f"/_sandbox/mirakl/{INSTANCE}/faults", json={**fault, "operations": list(operations)}
    )
    assert armed.status_code == 201, armed.text


async def test_the_invoice_is_listed_once_on_the_order_after_the_reply_and_a_redelivery(
    sandbox: httpx.AsyncClient, mongo_db: AsyncDatabase[Any]
) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    store = await connected_store(mongo_db, cipher)
    service, results = responder(mongo_db, cipher, sandbox, store)
    command = reply(store, await buyer_thread(sandbox))

    await service.on_reply(command)
    await service.on_reply(command)  # the same command delivered again

    (doc,) = await or72(sandbox)
    assert (doc["file_name"], doc["type"], doc["order_id"]) == (
        INVOICE.name,
        "CUSTOMER_INVOICE",
        ORDER,
    )
    assert doc["file_size"] == len(PDF)
    assert len(await shop_replies(sandbox)) == 1, "the message went once"
    last = results.results[-1]
    assert last.state is DeliveryState.SENT
    assert last.order_document is not None
    assert last.order_document.state is OrderDocumentState.UPLOADED


async def test_a_merchant_retry_of_a_failed_reply_files_the_invoice_once(
    sandbox: httpx.AsyncClient, mongo_db: AsyncDatabase[Any]
) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    store = await connected_store(mongo_db, cipher)
    service, results = responder(mongo_db, cipher, sandbox, store)
    command = reply(store, await buyer_thread(sandbox))
    await arm(sandbox, ["M12"], kind="server_error", status=500, count=2)

    await service.on_reply(command)
    assert results.results[-1].state is DeliveryState.FAILED
    assert await or72(sandbox) == [], "nothing filed for a reply that did not go"

    retry = command.model_copy(update={"retry": 1})
    assert await MongoDeliveryStore(mongo_db).begin_round(retry)
    await service.on_reply(retry)
    await service.on_reply(retry)

    assert [d["file_name"] for d in await or72(sandbox)] == [INVOICE.name]
    assert results.results[-1].state is DeliveryState.SENT


async def test_a_failed_upload_is_reported_and_neither_message_nor_upload_repeats(
    sandbox: httpx.AsyncClient, mongo_db: AsyncDatabase[Any]
) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    store = await connected_store(mongo_db, cipher)
    service, results = responder(mongo_db, cipher, sandbox, store)
    command = reply(store, await buyer_thread(sandbox))
    await arm(sandbox, ["OR74"], kind="server_error", status=503)

    await service.on_reply(command)
    await service.on_reply(command)

    assert len(await shop_replies(sandbox)) == 1
    assert await or72(sandbox) == []
    last = results.results[-1]
    assert last.state is DeliveryState.SENT
    assert last.order_document is not None
    assert last.order_document.state is OrderDocumentState.FAILED
    assert last.order_document.detail
