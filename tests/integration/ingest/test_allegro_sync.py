"""Ingest's Allegro connector against the sandbox, publishing to the real Kafka broker.

The sandbox runs in-process (its HTTP API through httpx's ASGI transport); snapshots
and dead letters go to the real broker and are read back from it; the connection and
its rotating OAuth tokens live in the real MongoDB-compatible server.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import Record, TopicProbe, session_topic_prefix

from parley_connectors.allegro import tokens_from_credentials
from parley_connectors.allegro.reading import AllegroConnector, client_for
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection
from parley_ingest.sync import SyncService
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app
from parley_schemas import (
    DEAD_LETTERS,
    MARKETPLACE_RAW,
    AttachmentRef,
    ParticipantRole,
    RawThreadSnapshot,
)
from parley_store import CONNECTIONS, GridFsFileStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-ingest-allegro", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def repo(mongo_db: AsyncDatabase[Any]) -> MongoConnectionRepository:
    r = MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))
    await r.ensure_indexes()
    return r


@pytest.fixture
async def account(sandbox: httpx.AsyncClient) -> str:
    """A fresh seller account whose used refresh tokens are revoked (strict rotation)."""
    name = f"it{uuid.uuid4().hex[:8]}"
    r = await sandbox.put(f"/_sandbox/allegro/{name}", json={"strict_rotation": True})
    assert r.status_code == 200, r.text
    return name


async def activate(
    repo: MongoConnectionRepository, account: str, activated: datetime
) -> Connection:
    connection = Connection(
        id=f"c-{account}",
        store_id=f"store-{account}",
        family="allegro",
        marketplace="allegro-pl",
        base_url="http://sandbox/allegro",
        credentials={
            "client_id": "sandbox-allegro-client",
            "client_secret": "sandbox-allegro-secret",
            "refresh_token": f"sandbox-refresh-token-{account}",
        },
        activated_at=activated,
        cursor=activated,
    )
    await repo.add(connection)
    return connection


def service(
    sandbox: httpx.AsyncClient, publisher: KafkaPublisher, repo: MongoConnectionRepository
) -> SyncService:
    def build(c: Connection) -> AllegroConnector:
        return AllegroConnector(c, client_for(c, repo, http=sandbox))

    return SyncService(build, KafkaSnapshotSink(publisher))


async def buyer(sandbox: httpx.AsyncClient, account: str, text: str, **extra: Any) -> str:
    r = await sandbox.post(f"/_sandbox/allegro/{account}/messages", json={"text": text, **extra})
    assert r.status_code == 201, r.text
    thread_id: str = r.json()["thread_id"]
    return thread_id


async def complain(sandbox: httpx.AsyncClient, account: str, text: str, **extra: Any) -> str:
    r = await sandbox.post(f"/_sandbox/allegro/{account}/issues", json={"text": text, **extra})
    assert r.status_code == 201, r.text
    issue_id: str = r.json()["issue_id"]
    return issue_id


async def arm(sandbox: httpx.AsyncClient, account: str, **fault: Any) -> None:
    r = await sandbox.post(f"/_sandbox/allegro/{account}/faults", json=fault)
    assert r.status_code == 201, r.text


def snapshots(records: list[Record]) -> dict[str, RawThreadSnapshot]:
    found: dict[str, RawThreadSnapshot] = {}
    for record in records:
        snapshot: RawThreadSnapshot = record.envelope().data
        found[snapshot.thread_id] = snapshot
    return found


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def test_both_channels_across_pages_then_only_what_changed(
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    repo: MongoConnectionRepository,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    account: str,
) -> None:
    old_thread = await buyer(sandbox, account, "Stara wiadomość", sent_at=ago(days=3))
    old_issue = await complain(sandbox, account, "Stary spór", sent_at=ago(days=3))
    reopened = await complain(sandbox, account, "Spór sprzed aktywacji", sent_at=ago(days=5))
    activated = datetime.now(UTC) - timedelta(hours=2)
    threads = [
        await buyer(
            sandbox, account, f"Pytanie {n}", order_id=f"order-{n}", sent_at=ago(minutes=90 - n)
        )
        for n in range(25)  # two pages of threads
    ]
    long_thread = threads[0]
    for n in range(24):  # two pages of messages
        await buyer(
            sandbox, account, f"dopisek {n}", thread_id=long_thread, sent_at=ago(minutes=60 - n)
        )
    question = await buyer(
        sandbox, account, "Czy jest w kolorze złotym?", offer_id="17328495061", type="ASK_QUESTION"
    )
    dispute = await complain(sandbox, account, "Paczka nie dotarła", order_id="order-77")
    claim = await complain(
        sandbox, account, "Inny kolor", type="CLAIM", reason="NOT_AS_DESCRIBED", offer_id="555"
    )
    await complain(sandbox, account, "Proszę o decyzję", issue_id=claim, author="ADMIN")
    await complain(sandbox, account, "Nadal czekam", issue_id=reopened)
    connection = await activate(repo, account, activated)
    sync = service(sandbox, publisher, repo)

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        first = await sync.sync(connection, datetime.now(UTC))
        records = await probe.wait_for(lambda r: account.encode() in (r.key or b""), count=29)

    found = snapshots(records)
    issue_ids = {f"issue:{i}" for i in (dispute, claim, reopened)}
    assert set(found) == {*threads, question, *issue_ids}
    assert old_thread not in found and f"issue:{old_issue}" not in found
    assert first.published == 29 and first.dead_lettered == 0
    assert first.connection.cursor > activated

    long = found[long_thread]
    assert long.channel == "message_center" and len(long.messages) == 25
    assert long.messages[0].sender.role is ParticipantRole.CUSTOMER
    assert {(e.type, e.id) for e in long.entities} == {("order", "order-0")}
    assert {(e.type, e.id) for e in found[question].entities} == {("offer", "17328495061")}
    claim_snapshot = found[f"issue:{claim}"]
    assert claim_snapshot.channel == "discussions"
    assert [m.sender.role for m in claim_snapshot.messages] == [
        ParticipantRole.CUSTOMER,
        ParticipantRole.OPERATOR,
    ]
    assert {e.type for e in claim_snapshot.entities} == {"order", "offer"}
    assert [m.body for m in found[f"issue:{reopened}"].messages][-1] == "Nadal czekam"

    # Tokens rotated during the sync were saved, encrypted, into the connection.
    stored = await repo.get(connection.id)
    assert stored is not None
    assert stored.credentials["refresh_token"] != connection.credentials["refresh_token"]
    raw = await mongo_db[CONNECTIONS].find_one({"_id": connection.id})
    assert raw is not None and stored.credentials["refresh_token"] not in repr(raw)

    # Next pass: only what changed after the cursor, with the rotated tokens (the
    # initial refresh token is revoked now, so stale credentials would fail).
    await buyer(sandbox, account, "Jeszcze jedno pytanie", thread_id=threads[5])
    await complain(sandbox, account, "Są jakieś wieści?", issue_id=dispute)
    await sandbox.post(f"/_sandbox/allegro/{account}/tokens/revoke")
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        second = await sync.sync(first.connection, datetime.now(UTC))
        await probe.wait_for(lambda r: account.encode() in (r.key or b""), count=2)
        again = [r for r in await probe.drain(1.0) if account.encode() in (r.key or b"")]
    # "At or after the cursor": the conversation that set the cursor comes once more.
    boundary = {t for t, s in found.items() if s.updated_at == first.connection.cursor}
    assert set(snapshots(again)) == {threads[5], f"issue:{dispute}"} | boundary
    assert len(again) == second.published == 2 + len(boundary)
    assert second.connection.cursor > first.connection.cursor
    rotated = await repo.get(connection.id)
    assert rotated is not None
    assert tokens_from_credentials(rotated.credentials) != tokens_from_credentials(
        stored.credentials
    )


async def test_rate_limits_and_server_errors_leave_the_cursor_in_place(
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    repo: MongoConnectionRepository,
    account: str,
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    await buyer(sandbox, account, "Dzień dobry")
    await complain(sandbox, account, "Problem")
    connection = await activate(repo, account, activated)
    sync = service(sandbox, publisher, repo)

    await arm(sandbox, account, kind="rate_limit", retry_after=42, operations=["listThreads"])
    now = datetime.now(UTC)
    limited = await sync.sync(connection, now)
    assert limited.next_sync_at == now + timedelta(seconds=42)
    assert limited.connection.cursor == activated

    await arm(sandbox, account, kind="server_error", operations=["getChat"])
    failed = await sync.sync(connection, datetime.now(UTC))
    assert failed.failures == 1 and failed.connection.cursor == activated

    recovered = await sync.sync(connection, datetime.now(UTC))
    assert recovered.published == 2 and recovered.connection.cursor > activated


async def test_malformed_conversations_are_dead_lettered_and_the_sync_goes_on(
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    repo: MongoConnectionRepository,
    kafka_bootstrap: str,
    account: str,
) -> None:
    activated = datetime.now(UTC) - timedelta(hours=1)
    first = await buyer(sandbox, account, "pierwsza", sent_at=ago(minutes=30))
    await buyer(sandbox, account, "druga", sent_at=ago(minutes=20))
    issue = await complain(sandbox, account, "spór", sent_at=ago(minutes=10))
    connection = await activate(repo, account, activated)
    # The oldest thread's messages come back broken; so does the issue listing.
    await arm(sandbox, account, kind="malformed", operations=["listMessages"])
    await arm(sandbox, account, kind="malformed", operations=["getIssues"])

    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS) as dead:
        outcome = await service(sandbox, publisher, repo).sync(connection, datetime.now(UTC))
        letters = await dead.wait_for(lambda r: account.encode() in (r.value or b""), count=2)

    assert outcome.dead_lettered == 2 and outcome.published == 1
    reasons = {
        letter.envelope().data.context["thread_id"]: letter.envelope().data for letter in letters
    }
    assert set(reasons) == {first, f"issue:{issue}"}
    assert all(d.stage == "ingest" for d in reasons.values())


async def test_attachments_of_both_channels_are_stored_and_one_issue_resyncs(
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
    repo: MongoConnectionRepository,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    account: str,
) -> None:
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    receipt = b"%PDF-1.4 paragon"
    activated = datetime.now(UTC) - timedelta(hours=1)
    files = {
        "photo": {
            "name": "pęknięty klosz.png",
            "content_base64": base64.b64encode(photo).decode(),
            "content_type": "image/png",
        },
        "receipt": {
            "name": "paragon.pdf",
            "content_base64": base64.b64encode(receipt).decode(),
            "content_type": "application/pdf",
        },
    }
    thread = await buyer(sandbox, account, "Zdjęcie", attachments=[files["photo"]])
    issue = await complain(sandbox, account, "Paragon", attachments=[files["receipt"]])
    connection = await activate(repo, account, activated)

    def build(c: Connection) -> AllegroConnector:
        return AllegroConnector(c, client_for(c, repo, http=sandbox))

    store = GridFsFileStore(mongo_db)
    sync = SyncService(build, KafkaSnapshotSink(publisher), store)
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        await sync.sync(connection, datetime.now(UTC))
        assert await sync.sync_thread(connection, f"issue:{issue}") is True
        records = await probe.wait_for(lambda r: account.encode() in (r.key or b""), count=3)

    refs: dict[str, list[AttachmentRef]] = {}
    for snapshot in (r.envelope().data for r in records):
        refs.setdefault(snapshot.thread_id, []).append(snapshot.messages[0].attachments[0])
    first_issue_ref, resynced_ref = refs[f"issue:{issue}"]
    assert resynced_ref.file_id == first_issue_ref.file_id
    for thread_id, content, name in (
        (thread, photo, "pęknięty klosz.png"),
        (f"issue:{issue}", receipt, "paragon.pdf"),
    ):
        ref = refs[thread_id][0]
        assert ref.file_id is not None and ref.size == len(content)
        stored = await store.open(ref.file_id)
        assert (stored.name, stored.content) == (name, content)
    assert await mongo_db["files.files"].count_documents({}) == 2, "resync reused the file"
