"""Wires the responder: delivery records, connections, marketplace families, results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_platform.mongo import connect
from parley_responder.adapters.kafka_results import KafkaResultSink
from parley_responder.adapters.mirakl import MiraklReplies
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.config import ResponderSettings
from parley_responder.handlers import Responder, RetryPolicy
from parley_store import ensure_indexes


@dataclass
class Runtime:
    responder: Responder
    publisher: KafkaPublisher
    mongo: AsyncMongoClient[Any]


async def bootstrap(settings: ResponderSettings) -> Runtime:
    client, db = connect(
        settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "responder"
    )
    await ensure_indexes(db)
    publisher = KafkaPublisher(
        settings.kafka_bootstrap_servers, "responder", settings.kafka_topic_prefix
    )
    await publisher.start()
    responder = Responder(
        MongoDeliveryStore(db),
        MongoDestinationLookup(db, CredentialCipher(settings.credentials_key.get_secret_value())),
        {"mirakl": MiraklReplies()},
        KafkaResultSink(publisher),
        RetryPolicy(
            max_attempts=settings.responder_max_attempts,
            base_delay=settings.responder_base_delay_seconds,
            max_delay=settings.responder_max_delay_seconds,
        ),
    )
    return Runtime(responder=responder, publisher=publisher, mongo=client)
