"""The normalizer's handlers wired to the real broker and a throw-away database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import session_topic_prefix

from parley_normalizer.adapters.kafka_events import KafkaEventSink
from parley_normalizer.adapters.mongo_store import MongoDiscussionStore
from parley_normalizer.handlers import Normalizer
from parley_platform.kafka import KafkaPublisher
from parley_store import ensure_indexes


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-normalizer", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def normalizer(mongo_db: AsyncDatabase[Any], publisher: KafkaPublisher) -> Normalizer:
    await ensure_indexes(mongo_db)
    return Normalizer(MongoDiscussionStore(mongo_db), KafkaEventSink(publisher))
