"""STARTTLS on ingest's inbound SMTP server, with certificates made at test time (trustme).

The server is built from IngestSettings the way ingest's bootstrap builds it
(INGEST_SMTP_TLS_CERT_FILE / _KEY_FILE / INGEST_SMTP_REQUIRE_STARTTLS), delivers to the
REAL Kafka broker and MongoDB-compatible server, and is spoken to over real SMTP
(aiosmtplib) by a client that trusts only the test's CA.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import trustme
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, session_topic_prefix

from parley_connectors.email_relay import new_inbound_address
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.inbound_addresses import MongoInboundAddressBook
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.adapters.smtp_server import InboundMailHandler, InboundSmtpServer
from parley_ingest.bootstrap import smtp_certificate
from parley_ingest.config import IngestSettings
from parley_ingest.domain.connections import Connection
from parley_ingest.inbound_mail import InboundMailService
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_schemas import MARKETPLACE_RAW
from parley_store import GridFsFileStore

pytestmark = pytest.mark.integration

DOMAIN = "inbound.parley.test"
MX = "mx.parley.test"  # the name the relays connect to, on the server's certificate


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_pair(ca: trustme.CA, directory: Path, *names: str) -> tuple[Path, Path]:
    """A server certificate (chain) and its key, as PEM files like a mounted TLS secret."""
    cert = ca.issue_cert(*names)
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key_file.write_bytes(cert.private_key_pem.bytes())
    return cert_file, key_file


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """What a relay uses: the system's rules, trusting the test's CA only."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-ingest-starttls", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def repo(mongo_db: AsyncDatabase[Any]) -> MongoConnectionRepository:
    return MongoConnectionRepository(mongo_db, CredentialCipher(CredentialCipher.generate_key()))


@pytest.fixture
async def servers(
    mongo_db: AsyncDatabase[Any], repo: MongoConnectionRepository, publisher: KafkaPublisher
) -> AsyncIterator[Callable[[IngestSettings], Any]]:
    """Starts inbound SMTP servers configured by IngestSettings; stops them all at the end."""
    started: list[InboundSmtpServer] = []

    async def start(settings: IngestSettings) -> InboundSmtpServer:
        service = InboundMailService(
            MongoInboundAddressBook(repo),
            KafkaSnapshotSink(publisher),
            GridFsFileStore(mongo_db),
            max_attachment_bytes=1024 * 1024,
        )
        server = InboundSmtpServer(
            InboundMailHandler(service),
            "127.0.0.1",
            0,
            hostname=MX,
            max_message_bytes=5 * 1024 * 1024,
            certificate=smtp_certificate(settings),
            require_starttls=settings.ingest_smtp_require_starttls,
        )
        await server.start()
        assert server.listening
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


def tls_settings(cert_file: Path, key_file: Path, *, require: bool) -> IngestSettings:
    return IngestSettings(
        ingest_smtp_tls_cert_file=cert_file,
        ingest_smtp_tls_key_file=key_file,
        ingest_smtp_require_starttls=require,
    )


async def add_connection(repo: MongoConnectionRepository) -> tuple[Connection, str]:
    store = f"store-{uuid.uuid4().hex[:8]}"
    address = new_inbound_address(store, "cdon-se", DOMAIN)
    now = datetime.now(UTC)
    connection = Connection(
        id=f"c-{store}",
        store_id=store,
        family="email_relay",
        marketplace="cdon-se",
        base_url=f"mailto:{address}",
        credentials={},
        activated_at=now,
        cursor=now,
        options={"inbound_address": address},
    )
    await repo.add(connection)
    return connection, address


def relay_mail(to: str, order_id: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Kund via CDON <buyer-7f3a9c@marketplace.cdon.com>"
    message["To"] = to
    message["Subject"] = f"Fråga om order {order_id}"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@cdon.com>"
    message["Date"] = "Tue, 03 Mar 2026 10:15:00 +0100"
    message.set_content(body)
    return message


@pytest.mark.parametrize("require", [False, True], ids=["offered", "required"])
async def test_a_relay_delivers_over_starttls(
    require: bool,
    ca: trustme.CA,
    tmp_path: Path,
    servers: Callable[[IngestSettings], Any],
    repo: MongoConnectionRepository,
    kafka_bootstrap: str,
) -> None:
    server: InboundSmtpServer = await servers(
        tls_settings(*write_pair(ca, tmp_path, MX, "127.0.0.1"), require=require)
    )
    connection, address = await add_connection(repo)
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=server.port,
        start_tls=False,
        tls_context=client_context(ca),
        timeout=30,
    )
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        await client.connect()
        try:
            await client.ehlo()
            assert client.supports_extension("starttls")
            await client.starttls()
            tls = client.transport.get_extra_info("ssl_object")
            assert tls is not None and tls.version() in ("TLSv1.2", "TLSv1.3")
            peer = tls.getpeercert()
            assert ("DNS", MX) in peer["subjectAltName"]
            errors, reply = await client.send_message(relay_mail(address, "CD-4711", "Hej!"))
        finally:
            await client.quit()
        (record,) = await probe.wait_for(
            lambda r: (r.key or b"").startswith(connection.store_id.encode())
        )

    assert not errors and reply.startswith("2.0.0 Message accepted")
    (message,) = record.envelope().data.messages
    assert message.body == "Hej!"


async def test_with_starttls_required_a_plain_mail_is_refused(
    ca: trustme.CA,
    tmp_path: Path,
    servers: Callable[[IngestSettings], Any],
    repo: MongoConnectionRepository,
) -> None:
    server: InboundSmtpServer = await servers(
        tls_settings(*write_pair(ca, tmp_path, MX, "127.0.0.1"), require=True)
    )
    _, address = await add_connection(repo)
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False, timeout=30)
    await client.connect()
    try:
        await client.ehlo()
        assert client.supports_extension("starttls")
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await client.mail("buyer-7f3a9c@marketplace.cdon.com")
        assert refused.value.code == 530
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused_rcpt:
            await client.rcpt(address)
        assert refused_rcpt.value.code in (503, 530)
    finally:
        await client.quit()


async def test_without_a_certificate_no_starttls_is_offered(
    servers: Callable[[IngestSettings], Any],
) -> None:
    server: InboundSmtpServer = await servers(IngestSettings())
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False, timeout=30)
    await client.connect()
    try:
        await client.ehlo()
        assert not client.supports_extension("starttls")
    finally:
        await client.quit()


async def test_a_renewed_certificate_is_served_without_a_restart(
    ca: trustme.CA, tmp_path: Path, servers: Callable[[IngestSettings], Any]
) -> None:
    cert_file, key_file = write_pair(ca, tmp_path, MX, "127.0.0.1")
    server: InboundSmtpServer = await servers(tls_settings(cert_file, key_file, require=False))

    async def served_certificate() -> bytes:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=server.port,
            start_tls=True,
            tls_context=client_context(ca),
            timeout=30,
        )
        await client.connect()
        try:
            der: bytes = client.transport.get_extra_info("ssl_object").getpeercert(True)
        finally:
            await client.quit()
        return der

    before = await served_certificate()
    write_pair(ca, tmp_path, MX, "127.0.0.1")  # cert-manager renews the secret in place
    after = await served_certificate()
    assert before != after
