"""The one place that wires the gateway's adapters to its service layer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from aiokafka.errors import KafkaError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from parley_connectors.email_relay import SmtpRelaySettings
from parley_gateway.accounts import AccessService
from parley_gateway.adapters.http_invoicer import HttpInvoicer
from parley_gateway.adapters.kafka_live_events import KafkaLiveEventsReader
from parley_gateway.adapters.mongo_accounts import MongoAccountRepository
from parley_gateway.adapters.mongo_connections import MongoConnectionReader
from parley_gateway.adapters.mongo_delivery_records import MongoDeliveryRecords
from parley_gateway.adapters.mongo_discussions import MongoDiscussionRepository
from parley_gateway.adapters.mongo_idempotency import MongoIdempotencyStore
from parley_gateway.adapters.mongo_sessions import MongoSessionRepository
from parley_gateway.adapters.mongo_unavailable import store_unavailable
from parley_gateway.adapters.outbox_commands import OutboxCommandPublisher
from parley_gateway.adapters.outbox_events import OutboxEventPublisher
from parley_gateway.adapters.smtp_mailer import SmtpMailer
from parley_gateway.autoresponder_service import AutoresponderService
from parley_gateway.config import GatewaySettings
from parley_gateway.connections import ConnectionService
from parley_gateway.deliveries import DeliveryService
from parley_gateway.files import FileService, UploadLimits
from parley_gateway.idempotency import IdempotencyService
from parley_gateway.invoices import InvoiceService
from parley_gateway.live import LiveFeed
from parley_gateway.service import DiscussionService
from parley_gateway.sessions import SessionService, sweep_periodically
from parley_platform.kafka import KafkaPublisher
from parley_platform.kafka_security import KafkaSecurity
from parley_platform.logging import get_logger
from parley_platform.metrics import OUTBOX_OLDEST_AGE, OUTBOX_QUEUED, export, on_scrape
from parley_platform.mongo import MongoTimeouts, connect
from parley_platform.outbox import MongoOutbox, OutboxPublisher, OutboxRelay, measure
from parley_platform.tasks import cancel_and_wait
from parley_schemas import CONVERSATION_EVENTS
from parley_store import (
    UPLOAD_KEYS,
    UPLOADS_BUCKET,
    GridFsFileReader,
    GridFsFileStore,
    ensure_indexes,
)
from parley_store.autoresponder_store import MongoAutoresponderStore

log = get_logger(__name__)
# How long a shutdown waits for a cancelled session sweep to end.
SWEEP_STOP_SECONDS = 5.0


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
    # Idempotency-Key on mutating requests; None (tests wiring without it): ignored.
    idempotency: IdempotencyService | None = None
    # Conversation events for GET /events/stream; None: live events are off.
    live: LiveFeed | None = None
    # Invoices through the invoicer's HTTP API (F20); None: not wired (tests).
    invoices: InvoiceService | None = None
    # Web inbox sign-ins (the session cookie); None: only API keys are accepted.
    sessions: SessionService | None = None


# The app factory takes one of these, so tests can wire in-memory fakes instead.
Bootstrap = Callable[[GatewaySettings], AbstractAsyncContextManager[Runtime]]


@asynccontextmanager
async def bootstrap(settings: GatewaySettings) -> AsyncIterator[Runtime]:
    """Connects MongoDB and starts the Kafka producer; closes both on the way out."""
    client, db = connect(
        settings.mongodb_uri.get_secret_value(),
        settings.mongodb_database,
        settings.service_name,
        MongoTimeouts.of(settings),
    )
    if not settings.api_key_pepper.get_secret_value():
        log.warning("API_KEY_PEPPER is not set: API key digests are keyed with an empty pepper")
    if not settings.link_signing_key.get_secret_value():
        log.warning("LINK_SIGNING_KEY is not set: download links in replies are refused")
    indexes = asyncio.create_task(_ensure_indexes_when_reachable(db, settings))
    try:
        publisher = KafkaPublisher.from_settings(settings, "gateway")
        await _start_if_reachable(publisher, settings)
        try:
            discussions = MongoDiscussionRepository(
                db, max_time_ms=settings.gateway_query_max_time_ms
            )
            # Commands and workflow events go through the outbox: stored first, published
            # now or by the relay.
            outbox = MongoOutbox(db, "gateway")
            outboxed = OutboxPublisher(
                outbox, publisher, timeout_seconds=settings.gateway_command_timeout_seconds
            )
            commands = OutboxCommandPublisher(outboxed)
            relay = OutboxRelay(outbox, publisher)
            relay.start()
            export(OUTBOX_OLDEST_AGE, OUTBOX_QUEUED)
            unmeasure = on_scrape(partial(measure, outbox))
            live, reader = _live_events(settings)
            invoicer = HttpInvoicer(
                settings.gateway_invoicer_url,
                timeout_seconds=settings.gateway_invoicer_timeout_seconds,
            )
            uploads = FileService(
                # The gateway writes only its own bucket; it reads attachments from all.
                GridFsFileStore(db, UPLOADS_BUCKET, UPLOAD_KEYS),
                UploadLimits(
                    settings.gateway_max_upload_bytes, frozenset(settings.gateway_upload_types)
                ),
                settings.link_signer(),
            )
            service = DiscussionService(
                discussions,
                commands,
                files=GridFsFileReader(db),
                uploads=uploads,
                max_attachments=settings.gateway_max_reply_attachments,
                events=OutboxEventPublisher(outboxed),
                at_risk_window=timedelta(hours=settings.gateway_reply_at_risk_hours),
            )
            accounts = MongoAccountRepository(db)
            access = AccessService(accounts, settings.pepper())
            sessions = SessionService(
                MongoSessionRepository(db),
                access,
                accounts,
                timedelta(hours=settings.gateway_session_ttl_hours),
            )
            sweeper = asyncio.create_task(
                sweep_periodically(
                    sessions, timedelta(seconds=settings.gateway_session_sweep_interval_seconds)
                ),
                name="web-session-sweep",
            )
            try:
                yield Runtime(
                    service=service,
                    access=access,
                    autoresponders=AutoresponderService(
                        MongoAutoresponderStore(db),
                        SmtpMailer(_smtp(settings)),
                        from_address=settings.gateway_notification_from,
                    ),
                    files=uploads,
                    deliveries=DeliveryService(discussions, MongoDeliveryRecords(db), commands),
                    connections=ConnectionService(MongoConnectionReader(db)),
                    idempotency=IdempotencyService(MongoIdempotencyStore(db)),
                    live=live,
                    sessions=sessions,
                    invoices=InvoiceService(discussions, invoicer, service, uploads),
                )
            finally:
                # Before the client closes: a sweep in flight ends here, not on a
                # closed client. Bounded: housekeeping never holds a shutdown.
                await cancel_and_wait(sweeper, grace=SWEEP_STOP_SECONDS)
        finally:
            await invoicer.close()
            unmeasure()
            await relay.stop()
            if reader is not None:
                reader.cancel()
            if live is not None:
                live.close()
            await publisher.stop()
    finally:
        indexes.cancel()
        await client.close()


async def _ensure_indexes_when_reachable(db: AsyncDatabase[Any], settings: GatewaySettings) -> None:
    """Creates the store's indexes, retrying while MongoDB is unreachable.

    The gateway starts (and answers 503 + Retry-After, /ready 503) during a database
    outage instead of failing its start-up; the indexes follow once MongoDB answers.
    """
    delay = 1.0
    while True:
        try:
            await ensure_indexes(db)
            return
        except PyMongoError as exc:
            if not store_unavailable(exc):
                log.error("indexes not ensured", error=f"{type(exc).__name__}: {exc}")
                return
            log.warning("MongoDB unreachable: indexes not ensured yet", error=type(exc).__name__)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _start_if_reachable(publisher: KafkaPublisher, settings: GatewaySettings) -> None:
    """Starts the producer, or leaves it to start on the first command.

    Reads need no broker: a gateway started during a Kafka outage serves them, and
    answers commands 503 + Retry-After until the broker is back.
    """
    try:
        async with asyncio.timeout(settings.gateway_command_timeout_seconds):
            await publisher.start()
    except (KafkaError, TimeoutError) as exc:
        log.warning("Kafka unreachable at start-up: commands wait for it", error=type(exc).__name__)


def _live_events(settings: GatewaySettings) -> tuple[LiveFeed | None, asyncio.Task[None] | None]:
    """The live feed and the task that follows the events topic into it, when enabled."""
    if not settings.gateway_live_events:
        return None, None
    feed = LiveFeed(
        buffer_size=settings.gateway_live_buffer, max_subscribers=settings.gateway_live_max_streams
    )
    reader = KafkaLiveEventsReader(
        feed,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.kafka_topic_prefix + CONVERSATION_EVENTS.name,
        security=KafkaSecurity.of(settings),
    )
    return feed, asyncio.create_task(reader.run(), name="live-events")


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
