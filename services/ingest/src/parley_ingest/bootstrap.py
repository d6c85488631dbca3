"""Wires ingest: MongoDB connections, Kafka sink, connector families, scheduler, and
the inbound SMTP server of the email-relay family."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from parley_connectors.registry import families
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.adapters.inbound_addresses import MongoInboundAddressBook
from parley_ingest.adapters.kafka_events import KafkaEventPublisher
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.adapters.smtp_server import (
    InboundMailHandler,
    InboundSmtpServer,
    ServerCertificate,
)
from parley_ingest.config import IngestSettings
from parley_ingest.connectors import connector_factory
from parley_ingest.inbound_mail import InboundMailService
from parley_ingest.resync import ResyncHandler
from parley_ingest.scheduler import Scheduler
from parley_ingest.sync import SyncService
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_platform.mongo import connect
from parley_store import GridFsFileStore


@dataclass
class Runtime:
    settings: IngestSettings
    mongo: AsyncMongoClient[Any]
    publisher: KafkaPublisher
    connections: MongoConnectionRepository
    scheduler: Scheduler
    resync: ResyncHandler
    inbound_smtp: InboundSmtpServer | None = None  # started by the app's lifespan

    async def close(self) -> None:
        if self.inbound_smtp is not None:  # stop taking mail before Kafka goes away
            await self.inbound_smtp.stop()
        await self.scheduler.stop()
        await self.publisher.stop()
        await self.mongo.close()


async def bootstrap(settings: IngestSettings) -> Runtime:
    families()  # an incomplete family folder stops start-up here, naming what it lacks
    client, db = connect(
        settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "ingest"
    )
    cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    connections = MongoConnectionRepository(db, cipher)
    await connections.ensure_indexes()
    publisher = KafkaPublisher.from_settings(settings, "ingest")
    await publisher.start()
    sink = KafkaSnapshotSink(publisher)
    files = GridFsFileStore(db)
    # Allegro's OAuth tokens rotate: connectors save them back into the connection.
    connectors = connector_factory(connections)
    events = KafkaEventPublisher(publisher)
    sync = SyncService(connectors, sink, files, settings.ingest_max_attachment_bytes, events=events)
    scheduler = Scheduler(
        connections,
        sync,
        owner=settings.ingest_instance_id or f"{socket.gethostname()}:{os.getpid()}",
        tick_seconds=settings.ingest_tick_seconds,
        lease_seconds=settings.ingest_lease_seconds,
        max_concurrent=settings.ingest_max_concurrent_syncs,
        events=events,
    )
    resync = ResyncHandler(connections, sync)
    inbound_smtp = None
    if settings.ingest_smtp_enabled:
        inbound = InboundMailService(
            MongoInboundAddressBook(connections),
            sink,
            files,
            settings.ingest_max_attachment_bytes,
        )
        inbound_smtp = InboundSmtpServer(
            InboundMailHandler(inbound),
            settings.ingest_smtp_host,
            settings.ingest_smtp_port,
            hostname=settings.ingest_inbound_domain,
            max_message_bytes=settings.ingest_smtp_max_message_bytes,
            certificate=smtp_certificate(settings),
            require_starttls=settings.ingest_smtp_require_starttls,
        )
    return Runtime(settings, client, publisher, connections, scheduler, resync, inbound_smtp)


def smtp_certificate(settings: IngestSettings) -> ServerCertificate | None:
    """STARTTLS's certificate, when both files are set (the settings checked the pair)."""
    cert, key = settings.ingest_smtp_tls_cert_file, settings.ingest_smtp_tls_key_file
    if cert is None or key is None:
        return None
    return ServerCertificate(cert, key)
