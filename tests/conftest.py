"""Fixtures shared by every test layer: the real stack's addresses and clean databases.

Integration and end-to-end tests need the real Kafka broker and MongoDB-compatible
server that `make test` starts; when their addresses are missing the tests fail
loudly instead of skipping, so a broken stack can never pass as green.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.topics_admin import delete_topics, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "deploy" / "local"))


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through `make test`, which starts the stack")
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return require_env("KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    return require_env("MONGODB_URI")


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A private set of topics: tests that run services see only their own records."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await ensure_topics(kafka_bootstrap, 1, prefix)
    try:
        yield prefix
    finally:
        await delete_topics(kafka_bootstrap, prefix)


@pytest.fixture
async def mongo_db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[Any]]:
    """A throw-away database per test: tests never see each other's documents."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
