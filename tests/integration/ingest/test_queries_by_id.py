"""Ingest's hot paths read and write each record by ``_id``, on the real server.

The flows run as ingest runs them (a scheduler pass polling the Mirakl sandbox with an
attachment, a resync request, relay mail with an attachment, an OAuth refresh lock,
credentials saved back) on a client whose every command is recorded
(``pymongo.monitoring``). Each filter must be exactly ``{_id: value}``: the one
FerretDB v1 pushes down on SQLite, and MongoDB's cheapest. Allowed, and why:

- the scheduler's due list (one query per tick, not per connection: the small
  ``connections`` collection is the answer);
- the refresh lock's guarded deletes (``_id`` plus ``expires_at``/``owner``): they
  make "delete only a stale claim" and "only my own claim" atomic on MongoDB, and the
  collection holds only the claims of refreshes in flight.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.query_log import Query, QueryLog, monitored

from parley_connectors.email_relay import new_inbound_address
from parley_connectors.mirakl import MiraklClient
from parley_connectors.mirakl.reading import MiraklConnector
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.inbound_addresses import MongoInboundAddressBook
from parley_ingest.domain.connections import Connection
from parley_ingest.inbound_mail import DeliveryOutcome, InboundMailService, RecipientVerdict
from parley_ingest.ports import MalformedThread
from parley_ingest.resync import ResyncHandler
from parley_ingest.scheduler import Scheduler
from parley_ingest.sync import SyncService
from parley_platform.crypto import CredentialCipher
from parley_sandbox import create_app
from parley_schemas import RawThreadSnapshot, ResyncRequest
from parley_store import GridFsFileStore, MongoRefreshLock
from parley_store.refresh_locks import REFRESH_LOCKS

pytestmark = pytest.mark.integration

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


class MemorySink:
    def __init__(self) -> None:
        self.snapshots: list[RawThreadSnapshot] = []

    async def publish(self, snapshot: RawThreadSnapshot) -> None:
        self.snapshots.append(snapshot)

    async def dead_letter(self, connection: Connection, malformed: MalformedThread) -> None:
        raise AssertionError(f"dead letter: {malformed.reason}")


def allowed(query: Query) -> bool:
    if query.command == "find" and query.collection == "connections":
        return "messaging_enabled" in (query.filter or {})  # the due list, once per tick
    if query.command == "delete" and query.collection == REFRESH_LOCKS:
        return query.by_id_with_guards({"expires_at", "owner"})
    return False


@pytest.fixture
async def watched(
    mongo_uri: str, mongo_db: AsyncDatabase[Any]
) -> AsyncIterator[tuple[AsyncDatabase[Any], QueryLog]]:
    async with monitored(mongo_uri, mongo_db.name) as pair:
        yield pair


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


def assert_by_id(log: QueryLog) -> None:
    assert log.queries, "the flow sent no query at all"
    offenders = log.not_by_id(allowed)
    assert offenders == [], "\n".join(f"{q.command} {q.collection} {q.filter}" for q in offenders)


async def test_a_scheduled_poll_and_a_resync_use_ids_only(
    watched: tuple[AsyncDatabase[Any], QueryLog], sandbox: httpx.AsyncClient
) -> None:
    db, log = watched
    instance = f"it{uuid.uuid4().hex[:8]}"
    r = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/messages",
        json={
            "body": "Voici une photo.",
            "sender": "CUSTOMER",
            "customer_name": "Jan",
            "attachments": [
                {
                    "name": "photo.png",
                    "content_base64": base64.b64encode(PHOTO).decode(),
                    "content_type": "image/png",
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    repo = MongoConnectionRepository(db, CredentialCipher(CredentialCipher.generate_key()))
    activated = datetime.now(UTC) - timedelta(hours=1)
    connection = Connection(
        id=f"c-{instance}",
        store_id=f"store-{instance}",
        family="mirakl",
        marketplace=instance,
        base_url=f"http://sandbox/mirakl/{instance}",
        credentials={"api_key": "sandbox-shop-key"},
        activated_at=activated,
        cursor=activated,
    )
    await repo.add(connection)
    sink = MemorySink()

    def build(c: Connection) -> MiraklConnector:
        return MiraklConnector(c, MiraklClient(c.base_url, c.credentials["api_key"], http=sandbox))

    sync = SyncService(build, sink, GridFsFileStore(db))
    scheduler = Scheduler(
        repo, sync, owner="me", tick_seconds=60, lease_seconds=60, max_concurrent=2
    )
    resync = ResyncHandler(repo, sync)

    log.recording = True
    await scheduler.tick()
    await scheduler.stop()
    # A resync makes it due again: the second pass finds the file already stored.
    await resync.on_resync(
        ResyncRequest(
            request_id=uuid.uuid4().hex,
            store_id=connection.store_id,
            marketplace=connection.marketplace,
            requested_by="agent@shop.example",
            requested_at=datetime.now(UTC),
        )
    )
    await scheduler.tick()
    await scheduler.stop()
    log.recording = False

    refs = [s.messages[0].attachments[0] for s in sink.snapshots]
    assert len(refs) == 2 and refs[0].file_id is not None and refs[0].file_id == refs[1].file_id
    assert_by_id(log)


async def test_relay_mail_finds_its_connection_and_stores_files_by_id(
    watched: tuple[AsyncDatabase[Any], QueryLog],
) -> None:
    db, log = watched
    repo = MongoConnectionRepository(db, CredentialCipher(CredentialCipher.generate_key()))
    store = f"store-{uuid.uuid4().hex[:8]}"
    address = new_inbound_address(store, "amazon-de", "inbound.parley.test")
    now = datetime.now(UTC)
    connection = Connection(
        id=f"c-{store}",
        store_id=store,
        family="email_relay",
        marketplace="amazon-de",
        base_url=f"mailto:{address}",
        credentials={},
        activated_at=now,
        cursor=now,
        options={"inbound_address": address},
    )
    await repo.add(connection)
    mail = EmailMessage()
    mail["From"] = "Buyer <k7m2x9q4w1ab3cd@marketplace.amazon.de>"
    mail["To"] = address
    mail["Subject"] = "Frage zur Bestellung 302-1234567-7654321"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@email.amazonses.com>"
    mail["Date"] = now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    mail.set_content("Wo ist mein Paket?")
    mail.add_attachment(PHOTO, maintype="image", subtype="png", filename="paket.png")
    sink = MemorySink()
    service = InboundMailService(MongoInboundAddressBook(repo), sink, GridFsFileStore(db), 1 << 20)

    log.recording = True
    assert await service.check_recipient(address.upper()) is RecipientVerdict.ACCEPT
    assert await service.check_recipient("nobody@inbound.parley.test") is RecipientVerdict.UNKNOWN
    for _ in range(2):  # the relay delivers it twice: the file is stored once
        delivered = await service.deliver([address], mail.as_bytes(), now)
        assert delivered.outcome is DeliveryOutcome.PUBLISHED
    log.recording = False

    refs = [s.messages[0].attachments[0] for s in sink.snapshots]
    assert refs[0].file_id is not None and refs[0].file_id == refs[1].file_id
    assert_by_id(log)


async def test_credentials_and_the_refresh_lock_use_ids_only(
    watched: tuple[AsyncDatabase[Any], QueryLog],
) -> None:
    db, log = watched
    repo = MongoConnectionRepository(db, CredentialCipher(CredentialCipher.generate_key()))
    now = datetime.now(UTC)
    await repo.add(
        Connection(
            id="c-allegro",
            store_id="s1",
            family="allegro",
            marketplace="allegro-pl",
            base_url="http://127.0.0.1:1/allegro",
            credentials={"refresh_token": "rt-1"},
            activated_at=now,
            cursor=now,
        )
    )
    stale = MongoRefreshLock(db, "c-allegro", clock=lambda: now - timedelta(hours=1))
    assert await stale.acquire()

    log.recording = True
    lock = repo.lock_for("c-allegro")
    assert await lock.acquire(), "a claim past its expiry is taken over"
    await repo.save_credentials("c-allegro", {"refresh_token": "rt-2"})
    await lock.release()
    loaded = await repo.get("c-allegro")
    assert await repo.set_enabled("c-allegro", False)
    assert await repo.request_resync("c-allegro", retry_attention=True)
    log.recording = False

    assert loaded is not None and loaded.credentials == {"refresh_token": "rt-2"}
    assert_by_id(log)
