"""Ingest's inbound SMTP server on a free port, publishing to the REAL Kafka broker.

Mail is sent over real SMTP (aiosmtplib, or the sandbox's relay playing Amazon);
connections live in the real MongoDB-compatible server; snapshots and dead letters
are read back from the broker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, session_topic_prefix

from parley_connectors.email_relay import new_inbound_address
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.inbound_addresses import MongoInboundAddressBook
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.adapters.smtp_server import InboundMailHandler, InboundSmtpServer
from parley_ingest.domain.connections import Connection
from parley_ingest.inbound_mail import InboundMailService
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_sandbox import create_app
from parley_schemas import DEAD_LETTERS, MARKETPLACE_RAW, ParticipantRole
from parley_store import GridFsFileStore

pytestmark = pytest.mark.integration

DOMAIN = "inbound.parley.test"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-ingest-mail", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def repo(mongo_db: AsyncDatabase[Any]) -> MongoConnectionRepository:
    return MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))


async def add_connection(
    repo: MongoConnectionRepository, *, enabled: bool = True
) -> tuple[Connection, str]:
    store = f"store-{uuid.uuid4().hex[:8]}"
    address = new_inbound_address(store, "amazon-de", DOMAIN)
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
        messaging_enabled=enabled,
        options={"inbound_address": address},
    )
    await repo.add(connection)
    return connection, address


def server_for(
    mongo_db: AsyncDatabase[Any],
    repo: MongoConnectionRepository,
    publisher: KafkaPublisher,
    deliver_timeout: float = 60.0,
) -> InboundSmtpServer:
    service = InboundMailService(
        MongoInboundAddressBook(repo),
        KafkaSnapshotSink(publisher),
        GridFsFileStore(mongo_db),
        max_attachment_bytes=1024 * 1024,
    )
    return InboundSmtpServer(
        InboundMailHandler(service, deliver_timeout=deliver_timeout),
        "127.0.0.1",
        0,
        hostname=DOMAIN,
        max_message_bytes=5 * 1024 * 1024,
    )


@pytest.fixture
async def smtp(
    mongo_db: AsyncDatabase[Any], repo: MongoConnectionRepository, publisher: KafkaPublisher
) -> AsyncIterator[InboundSmtpServer]:
    server = server_for(mongo_db, repo, publisher)
    await server.start()
    yield server
    await server.stop()


def amazon_mail(to: str, order_id: str, body: str, sender: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = (
        sender or "Jürgen Müller - Amazon Marketplace <k7m2x9q4w1ab3cd@marketplace.amazon.de>"
    )
    message["To"] = to
    message["Subject"] = f"Anfrage von Amazon-Kunde Jürgen (Bestellung: {order_id})"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@email.amazonses.com>"
    message["Date"] = "Tue, 03 Mar 2026 10:15:00 +0100"
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    return message


async def test_a_relay_mail_becomes_a_snapshot_on_kafka_with_its_attachment_stored(
    smtp: InboundSmtpServer,
    repo: MongoConnectionRepository,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
) -> None:
    connection, address = await add_connection(repo)
    mail = amazon_mail(address.upper(), "302-1234567-7654321", "Wo bleibt mein Paket?")

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        _, reply = await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp.port)
        (record,) = await probe.wait_for(
            lambda r: (r.key or b"").startswith(connection.store_id.encode())
        )

    assert reply.startswith("2.0.0 Message accepted")
    snapshot = record.envelope().data
    assert snapshot.family == "email_relay" and snapshot.channel == "email"
    assert snapshot.connection_id == connection.id
    assert snapshot.thread_id.startswith("order:302-1234567-7654321:")
    assert [(e.type, e.id) for e in snapshot.entities] == [("order", "302-1234567-7654321")]
    (message,) = snapshot.messages
    assert message.body == "Wo bleibt mein Paket?"
    assert message.marketplace_message_id == str(mail["Message-ID"]).strip("<>")
    assert message.sender.role is ParticipantRole.CUSTOMER
    assert message.sender.email == "k7m2x9q4w1ab3cd@marketplace.amazon.de"
    assert message.sender.name == "Jürgen Müller"
    (attachment,) = message.attachments
    assert attachment.name == "Rechnung März.pdf" and attachment.size == len(PDF)
    assert attachment.file_id is not None
    stored = await GridFsFileStore(mongo_db).open(attachment.file_id)
    assert stored.content == PDF and stored.content_type == "application/pdf"
    assert snapshot.payload["envelope"]["rcpt_to"] == [address.upper()]


# Amazon.de's relay framing around the buyer's words: localized delimiter lines, the
# order/item header before them and the notice after them (the shape of relayed mail
# quoted in public seller tooling; see tests/unit/test_email_relay_framing.py).
FRAMED_DE = """\
Sie haben eine Nachricht erhalten.

# 302-1234567-7654321:
1 / Kopfhörer Bluetooth, schwarz [ASIN: B0C1234XYZ]

------------- Anfang der Nachricht -------------

Guten Tag,
wo bleibt mein Paket?

------------- Ende der Nachricht -------------

War diese E-Mail hilfreich?
Copyright 2026 Amazon.com, Inc. oder Tochtergesellschaften."""


async def test_a_framed_relay_mail_publishes_the_buyers_text_and_keeps_the_framing(
    smtp: InboundSmtpServer,
    repo: MongoConnectionRepository,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
) -> None:
    """The message body (and so the discussion's preview) is the buyer's text only; what
    Amazon wrapped around it stays in the snapshot payload, its facts become entities.
    Parley keeps no copy of a readable mail's bytes, before this change or after it:
    only its attachments (stored unchanged) and, for a mail it cannot read, the raw
    .eml (stored byte for byte, framing included: the second half of this test)."""
    connection, address = await add_connection(repo)
    mail = amazon_mail(address, "302-1234567-7654321", FRAMED_DE)

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp.port)
        (record,) = await probe.wait_for(
            lambda r: (r.key or b"").startswith(connection.store_id.encode())
        )

    snapshot = record.envelope().data
    (message,) = snapshot.messages
    assert message.body == "Guten Tag,\nwo bleibt mein Paket?"
    assert [(e.type, e.id, e.label) for e in snapshot.entities] == [
        ("order", "302-1234567-7654321", None),
        ("product", "B0C1234XYZ", "Kopfhörer Bluetooth, schwarz"),
    ]
    framing = snapshot.payload["framing"]
    assert framing["before"].endswith("------------- Anfang der Nachricht -------------")
    assert "War diese E-Mail hilfreich?" in framing["after"]
    (attachment,) = message.attachments
    assert attachment.file_id is not None
    assert (await GridFsFileStore(mongo_db).open(attachment.file_id)).content == PDF

    unreadable = amazon_mail(address, "302-1234567-7654321", FRAMED_DE, sender="x@shop.example")
    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS) as dead:
        await aiosmtplib.send(unreadable, hostname="127.0.0.1", port=smtp.port)
        (letter,) = await dead.wait_for(lambda r: connection.id.encode() in (r.value or b""))
    kept = json.loads(letter.envelope().data.original_value)
    stored = await GridFsFileStore(mongo_db).open(kept["raw_file_id"])
    kept_mail = message_from_bytes(stored.content, policy=policy.default)
    assert isinstance(kept_mail, EmailMessage)
    kept_body = kept_mail.get_body(preferencelist=("plain",))
    assert kept_body is not None
    assert kept_body.get_content().replace("\r\n", "\n").strip() == FRAMED_DE


async def test_an_unknown_recipient_is_refused_with_550(smtp: InboundSmtpServer) -> None:
    mail = amazon_mail(f"nobody-{uuid.uuid4().hex[:6]}@{DOMAIN}", "302-1-1", "hello")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp.port)
    assert refused.value.recipients[0].code == 550


async def test_a_store_with_messaging_disabled_is_refused_with_550(
    smtp: InboundSmtpServer, repo: MongoConnectionRepository
) -> None:
    _, address = await add_connection(repo, enabled=False)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(
            amazon_mail(address, "302-1-1", "hi"), hostname="127.0.0.1", port=smtp.port
        )
    assert refused.value.recipients[0].code == 550


async def test_an_unreadable_mail_is_dead_lettered_and_accepted(
    smtp: InboundSmtpServer,
    repo: MongoConnectionRepository,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
) -> None:
    connection, address = await add_connection(repo)
    mail = amazon_mail(address, "302-1234567-7654321", "spam", sender="promo@shop.example")

    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS) as dead:
        _, reply = await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp.port)
        (letter,) = await dead.wait_for(lambda r: connection.id.encode() in (r.value or b""))

    assert "accepted for review" in reply
    data = letter.envelope().data
    assert data.stage == "ingest"
    assert "not a marketplace relay address" in data.reason
    assert data.context["connection_id"] == connection.id
    kept = json.loads(data.original_value)
    stored = await GridFsFileStore(mongo_db).open(kept["raw_file_id"])
    assert b"promo@shop.example" in stored.content


async def test_a_mail_is_not_accepted_when_kafka_cannot_take_it(
    mongo_db: AsyncDatabase[Any], repo: MongoConnectionRepository, kafka_bootstrap: str
) -> None:
    _, address = await add_connection(repo)
    stopped = KafkaPublisher(kafka_bootstrap, "test-ingest-mail-stopped", session_topic_prefix())
    await stopped.start()
    await stopped.stop()  # a producer that never gets an acknowledgement any more
    server = server_for(mongo_db, repo, stopped, deliver_timeout=3.0)
    await server.start()
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
            await aiosmtplib.send(
                amazon_mail(address, "302-1234567-7654321", "hello"),
                hostname="127.0.0.1",
                port=server.port,
                timeout=30,
            )
    finally:
        await server.stop()
    assert deferred.value.code == 451, "the relay must keep the mail and retry"


async def test_the_sandbox_relay_delivers_a_pre_sale_question(
    smtp: InboundSmtpServer, repo: MongoConnectionRepository, kafka_bootstrap: str
) -> None:
    connection, address = await add_connection(repo)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seed=False)), base_url="http://sandbox"
    ) as sandbox:
        r = await sandbox.put("/_sandbox/email/config", json={"parley_smtp_port": smtp.port})
        assert r.status_code == 200, r.text
        async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
            r = await sandbox.post(
                "/_sandbox/email/inbound",
                json={
                    "to": address,
                    "body": "Is this available in blue?\n\nThanks, Ann",
                    "buyer_name": "Ann",
                    "inquiry": "product",
                    "format": "html",
                    "tld": "co.uk",
                },
            )
            assert r.status_code == 200, r.text
            (record,) = await probe.wait_for(
                lambda r: (r.key or b"").startswith(connection.store_id.encode())
            )
    sent = r.json()
    assert sent["accepted"] is True and sent["order_id"] is None
    snapshot = record.envelope().data
    assert snapshot.thread_id == f"ref:{sent['message_id']}"
    assert snapshot.subject == "Product details inquiry from Amazon customer Ann"
    assert snapshot.entities == []
    assert snapshot.messages[0].body == "Is this available in blue?\n\nThanks, Ann"
    assert snapshot.messages[0].sender.name == "Ann"


async def test_a_port_in_use_leaves_ingest_running_but_not_ready_for_mail(
    smtp: InboundSmtpServer,
    mongo_db: AsyncDatabase[Any],
    repo: MongoConnectionRepository,
    publisher: KafkaPublisher,
) -> None:
    service = InboundMailService(
        MongoInboundAddressBook(repo),
        KafkaSnapshotSink(publisher),
        GridFsFileStore(mongo_db),
        max_attachment_bytes=1024,
    )
    second = InboundSmtpServer(
        InboundMailHandler(service), "127.0.0.1", smtp.port, hostname=DOMAIN, max_message_bytes=1024
    )
    await second.start()
    assert smtp.listening and not second.listening
    await second.stop()
