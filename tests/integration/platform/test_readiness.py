"""Readiness that means it, on the real stack, with the services as processes.

A stream processor that cannot reach MongoDB is alive (``/health`` 200) but not ready
(``/ready`` 503, the failing check named); with the real broker and database it turns
ready once it has joined its consumer group. Ingest's readiness asks the broker too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from devstack import Ports, ServiceGroup, free_port
from pymongo.asynchronous.database import AsyncDatabase
from support.waiting import eventually

from parley_platform.crypto import CredentialCipher

pytestmark = pytest.mark.integration


def _group(kafka_bootstrap: str, mongo_uri: str, database: str, topic_prefix: str) -> ServiceGroup:
    run = uuid.uuid4().hex[:8]
    return ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": database,
            "CREDENTIALS_KEY": CredentialCipher.generate_key(),
            "NORMALIZER_APP_ID": f"normalizer-ready-{run}",
            "RESPONDER_APP_ID": f"responder-ready-{run}",
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "SANDBOX_SEED": "0",
        },
        ports=Ports.free(),
    )


@pytest.fixture
def unreachable_mongo(
    kafka_bootstrap: str, mongo_db: AsyncDatabase[Any], topic_prefix: str
) -> Iterator[ServiceGroup]:
    closed = free_port()  # bound, then released: nothing listens there
    uri = f"mongodb://127.0.0.1:{closed}/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
    group = _group(kafka_bootstrap, uri, mongo_db.name, topic_prefix)
    try:
        group.start("normalizer", "parley_normalizer")
        group.start("responder", "parley_responder")
        group.wait_healthy(["normalizer", "responder"])
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def real_stack(
    kafka_bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], topic_prefix: str
) -> Iterator[ServiceGroup]:
    group = _group(kafka_bootstrap, mongo_uri, mongo_db.name, topic_prefix)
    try:
        group.start_sandbox()
        group.start("normalizer", "parley_normalizer")
        group.start("responder", "parley_responder")
        group.start("ingest", "parley_ingest")
        group.wait_healthy(["normalizer", "responder", "ingest"])
        yield group
    finally:
        group.stop_all()


def _ready_url(group: ServiceGroup, name: str) -> str:
    return group.health_urls()[name].removesuffix("/health") + "/ready"


async def test_without_mongodb_the_stream_processors_are_alive_but_not_ready(
    unreachable_mongo: ServiceGroup,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name in ("normalizer", "responder"):
            health = await http.get(unreachable_mongo.health_urls()[name])
            ready = await http.get(_ready_url(unreachable_mongo, name))
            assert health.status_code == 200, name
            assert ready.status_code == 503, (name, ready.text)
            checks = ready.json()["checks"]
            assert checks["mongodb"] != "ok", (name, checks)
            assert checks["kafka"] == "ok", (name, checks)


async def test_with_the_real_stack_every_service_turns_ready(real_stack: ServiceGroup) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name in ("normalizer", "responder", "ingest"):
            last: list[httpx.Response] = []

            async def ready(name: str = name, last: list[httpx.Response] = last) -> bool:
                last[:] = [await http.get(_ready_url(real_stack, name))]
                return last[0].status_code == 200

            await eventually(ready, timeout=120, interval=1.0)
            checks = last[0].json()["checks"]
            assert checks["mongodb"] == "ok" and checks["kafka"] == "ok", (name, checks)
            if name != "ingest":
                assert checks["consumer_group"] == "ok", (name, checks)
