"""The one place that wires the gateway's adapters to its service layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from parley_gateway.accounts import AccessService
from parley_gateway.adapters.kafka_commands import KafkaCommandPublisher
from parley_gateway.adapters.mongo_accounts import MongoAccountRepository
from parley_gateway.adapters.mongo_discussions import MongoDiscussionRepository
from parley_gateway.config import GatewaySettings
from parley_gateway.service import DiscussionService
from parley_platform.kafka import KafkaPublisher
from parley_platform.logging import get_logger
from parley_platform.mongo import connect
from parley_store import ensure_indexes

log = get_logger(__name__)


@dataclass(frozen=True)
class Runtime:
    """What the HTTP layer needs while the app runs."""

    service: DiscussionService
    access: AccessService


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
    try:
        await ensure_indexes(db)
        publisher = KafkaPublisher(
            settings.kafka_bootstrap_servers, "gateway", settings.kafka_topic_prefix
        )
        await publisher.start()
        try:
            yield Runtime(
                service=DiscussionService(
                    MongoDiscussionRepository(db), KafkaCommandPublisher(publisher)
                ),
                access=AccessService(MongoAccountRepository(db), settings.pepper()),
            )
        finally:
            await publisher.stop()
    finally:
        await client.close()
