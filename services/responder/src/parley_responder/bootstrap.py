"""Wires the responder: delivery records, connections, marketplace families, results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from pymongo import AsyncMongoClient

from parley_connectors.email_relay import SmtpRelaySettings, SmtpSender
from parley_connectors.errors import MarketplaceUnavailable, RateLimited
from parley_connectors.registry import families
from parley_connectors.writing import WriterDeps
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_platform.metrics import OUTBOX_OLDEST_AGE, OUTBOX_QUEUED, export, on_scrape
from parley_platform.mongo import connect
from parley_responder.adapters.kafka_events import KafkaEventPublisher
from parley_responder.adapters.kafka_refresh_requests import KafkaRefreshRequests
from parley_responder.adapters.kafka_results import KafkaResultSink
from parley_responder.adapters.mongo_autoresponder import (
    MongoConversationReader,
    MongoNotificationLog,
)
from parley_responder.adapters.mongo_deliveries import MongoDeliveryQueue, MongoDeliveryStore
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.adapters.mongo_threads import MongoThreadReader
from parley_responder.adapters.mongo_usage import MongoConversationUsage
from parley_responder.announcements import AnnouncingResultSink
from parley_responder.autoresponder import Autoresponder
from parley_responder.config import ResponderSettings
from parley_responder.handlers import Responder, RetryPolicy
from parley_responder.outgoing import ReplyPreparer
from parley_responder.ports import MarketplaceReplies
from parley_responder.scheduler import DeliveryScheduler
from parley_schemas import utcnow
from parley_store import GridFsFileReader, ensure_indexes
from parley_store.autoresponder_store import MongoAutoresponderReader

# What the responder's streams wait for, however long, instead of dead-lettering the
# record: a marketplace or the SMTP relay that is down or throttling comes back.
MAY_COME_BACK: tuple[type[BaseException], ...] = (MarketplaceUnavailable, RateLimited)


@dataclass
class Runtime:
    responder: Responder
    scheduler: DeliveryScheduler
    autoresponder: Autoresponder
    publisher: KafkaPublisher
    mongo: AsyncMongoClient[Any]


def writers(deps: WriterDeps) -> dict[str, MarketplaceReplies]:
    """Every registered family's writer; an incomplete family folder, or a writer that
    lacks what it needs, stops start-up here with the family's name."""
    built: dict[str, MarketplaceReplies] = {}
    for name, found in families().items():
        assert found.writer is not None  # the registry refuses a family without one
        built[name] = found.writer(deps)
    return built


async def bootstrap(settings: ResponderSettings) -> Runtime:
    client, db = connect(
        settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "responder"
    )
    await ensure_indexes(db)
    publisher = KafkaPublisher.from_settings(settings, "responder")
    await publisher.start()
    destinations = MongoDestinationLookup(
        db, CredentialCipher(settings.credentials_key.get_secret_value())
    )
    responder = Responder(
        MongoDeliveryStore(db),
        destinations,
        writers(
            WriterDeps(
                mailer=_smtp(settings),
                threads=MongoThreadReader(db),
                # Ingest owns the credentials: the responder reads them, asks it to refresh.
                credentials=destinations,
                refreshes=KafkaRefreshRequests(publisher),
            )
        ),
        AnnouncingResultSink(KafkaResultSink(publisher), KafkaEventPublisher(publisher)),
        RetryPolicy(
            max_attempts=settings.responder_max_attempts,
            base_delay=settings.responder_base_delay_seconds,
            max_delay=settings.responder_max_delay_seconds,
            max_retry_after=settings.responder_max_retry_after_seconds,
        ),
        preparer=ReplyPreparer(
            GridFsFileReader(db),
            MongoConversationUsage(db),
            settings.link_signer(),
            settings.public_base_url,
            settings.link_ttl_seconds,
        ),
    )
    # Replies (the merchant's and autoresponses) are accepted into the outbox's queue
    # and delivered per connection; what a previous process left there resumes now.
    queue = MongoDeliveryQueue(db)
    export(OUTBOX_OLDEST_AGE, OUTBOX_QUEUED)
    on_scrape(partial(measure_outbox, queue))
    scheduler = DeliveryScheduler(
        responder,
        queue,
        max_pending=settings.responder_max_pending,
        lease=settings.responder_delivery_lease_seconds,
    )
    scheduler.start()
    autoresponder = Autoresponder(
        MongoAutoresponderReader(db),
        MongoConversationReader(db),
        scheduler,
        MongoNotificationLog(db),
        _smtp(settings),
        from_address=settings.responder_autoresponder_from,
        max_age=timedelta(seconds=settings.responder_autoresponder_max_age_seconds),
    )
    return Runtime(
        responder=responder,
        scheduler=scheduler,
        autoresponder=autoresponder,
        publisher=publisher,
        mongo=client,
    )


async def measure_outbox(queue: MongoDeliveryQueue) -> None:
    """``parley_outbox_queued`` and ``parley_outbox_oldest_age_seconds`` on scrape: how
    far behind delivery is, whichever instance holds the replies (the queue is shared)."""
    count, oldest = await queue.backlog()
    OUTBOX_QUEUED.set(count)
    age = 0.0 if oldest is None else (utcnow() - oldest).total_seconds()
    OUTBOX_OLDEST_AGE.set(max(0.0, age))


def _smtp(settings: ResponderSettings) -> SmtpSender:
    return SmtpSender(
        SmtpRelaySettings(
            host=settings.responder_smtp_host,
            port=settings.responder_smtp_port,
            starttls=settings.responder_smtp_starttls,
            implicit_tls=settings.responder_smtp_implicit_tls,
            username=settings.responder_smtp_username or None,
            password=settings.responder_smtp_password.get_secret_value() or None,
            timeout=settings.responder_smtp_timeout_seconds,
        )
    )
