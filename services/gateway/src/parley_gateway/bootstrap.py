"""The one place that wires the gateway's adapters to its service layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from parley_connectors.email_relay import SmtpRelaySettings
from parley_gateway.accounts import AccessService
from parley_gateway.adapters.kafka_commands import KafkaCommandPublisher
from parley_gateway.adapters.mongo_accounts import MongoAccountRepository
from parley_gateway.adapters.mongo_connections import MongoConnectionReader
from parley_gateway.adapters.mongo_discussions import MongoDiscussionRepository
from parley_gateway.adapters.mongo_outbox import MongoDeliveryOutbox
from parley_gateway.adapters.smtp_mailer import SmtpMailer
from parley_gateway.autoresponder_service import AutoresponderService
from parley_gateway.config import GatewaySettings
from parley_gateway.connections import ConnectionService
from parley_gateway.deliveries import DeliveryService
from parley_gateway.files import FileService, UploadLimits
from parley_gateway.service import DiscussionService
from parley_platform.kafka import KafkaPublisher
from parley_platform.logging import get_logger
from parley_platform.mongo import connect
from parley_store import GridFsFileStore, ensure_indexes
from parley_store.autoresponder_store import MongoAutoresponderStore

log = get_logger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What the HTTP layer needs while the app runs."""

    service: DiscussionService
    access: AccessService
    autoresponders: AutoresponderService
    # Reply files and delivery retries (F17, F18); None where a test wires without them.
    files: FileService | None = None
    deliveries: DeliveryService | None = None
    # Marketplace connections and their sync health (F2, F3), read from ingest's store.
    connections: ConnectionService | None = None


# The app factory takes one of these, so tests can wire in-memory fakes instead.
Bootstrap = Callable[[GatewaySettings], AbstractAsyncContextManager[Runtime]]


@asynccontextmanager
async def bootstrap(settings: GatewaySettings) -> AsyncIterator[Runtime]:
    """Connects MongoDB and starts the Kafka producer; closes both on the way out."""
    client, db = connect(
        settings.mongodb_uri.get_secret_value(), settings.mongodb_database, settings.service_name
    )
    if not settings.api_key_pepper.get_secret_value():
        log.warning("API_KEY_PEPPER is not set: API key digests are keyed with an empty pepper")
    if not settings.link_signing_key.get_secret_value():
        log.warning("LINK_SIGNING_KEY is not set: download links in replies are refused")
    try:
        await ensure_indexes(db)
        publisher = KafkaPublisher(
            settings.kafka_bootstrap_servers, "gateway", settings.kafka_topic_prefix
        )
        await publisher.start()
        try:
            discussions = MongoDiscussionRepository(db)
            commands = KafkaCommandPublisher(publisher)
            uploads = FileService(
                GridFsFileStore(db),
                UploadLimits(
                    settings.gateway_max_upload_bytes, frozenset(settings.gateway_upload_types)
                ),
                settings.link_signer(),
            )
            yield Runtime(
                service=DiscussionService(
                    discussions,
                    commands,
                    files=GridFsFileStore(db),
                    uploads=uploads,
                    max_attachments=settings.gateway_max_reply_attachments,
                ),
                access=AccessService(MongoAccountRepository(db), settings.pepper()),
                autoresponders=AutoresponderService(
                    MongoAutoresponderStore(db),
                    SmtpMailer(_smtp(settings)),
                    from_address=settings.gateway_notification_from,
                ),
                files=uploads,
                deliveries=DeliveryService(discussions, MongoDeliveryOutbox(db), commands),
                connections=ConnectionService(MongoConnectionReader(db)),
            )
        finally:
            await publisher.stop()
    finally:
        await client.close()


def _smtp(settings: GatewaySettings) -> SmtpRelaySettings:
    return SmtpRelaySettings(
        host=settings.gateway_smtp_host,
        port=settings.gateway_smtp_port,
        starttls=settings.gateway_smtp_starttls,
        implicit_tls=settings.gateway_smtp_implicit_tls,
        username=settings.gateway_smtp_username or None,
        password=settings.gateway_smtp_password.get_secret_value() or None,
        timeout=settings.gateway_smtp_timeout_seconds,
    )
