"""The reliability suite's own stack and system, which its probes break on purpose.

Unlike the other layers, these tests stop the broker and the database: so they get a
private Kafka and MongoDB-compatible server, started by the same script as the shared
stack (``deploy/local/stack.sh`` with a run directory and ports of their own), and
the whole system as processes on top. Each probe counts what matters to a merchant —
lost, duplicated, double-sent, falsely sent — into a report written at the end to
``.run/reliability/report.json`` (and printed), and asserts each count is 0.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from devstack import Ports, ServiceGroup
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from support.reliability import (
    PREFIX,
    REPORT,
    ROOT,
    PrivateStack,
    Report,
    free_port_with_neighbour,
)

from parley_platform.crypto import CredentialCipher


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    run_dir = ROOT / ".run" / f"reliability-{uuid.uuid4().hex[:8]}"
    kafka, mongo = free_port_with_neighbour(), free_port_with_neighbour()
    stack = PrivateStack(run_dir, kafka, free_port_with_neighbour(), mongo)
    stack.run("up")
    try:
        yield stack
    finally:
        stack.run("down")
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def system(private_stack: PrivateStack) -> Iterator[ServiceGroup]:
    database = f"parley_rel_{uuid.uuid4().hex[:8]}"
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": private_stack.kafka,
            "MONGODB_URI": private_stack.mongo_uri,
            "MONGODB_DATABASE": database,
            "CREDENTIALS_KEY": CredentialCipher.generate_key(),
            "KAFKA_TOPIC_PREFIX": PREFIX,
            "NORMALIZER_APP_ID": f"parley-normalizer-{database}",
            "RESPONDER_APP_ID": f"parley-responder-{database}",
            "INGEST_GROUP_ID": f"parley-ingest-{database}",
            "INGEST_TICK_SECONDS": "0.5",
            "RESPONDER_BASE_DELAY_SECONDS": "0.2",
            "SANDBOX_SEED": "0",
        },
        ports=Ports.free(),
        log_dir=ROOT / ".run" / "reliability" / "logs",
    )
    # The log scan reads this run's logs only.
    shutil.rmtree(group.log_dir, ignore_errors=True)
    try:
        group.start_sandbox()
        group.start_services()
        yield group
    finally:
        group.stop_all()


@pytest.fixture(scope="session")
async def store_db(
    private_stack: PrivateStack, system: ServiceGroup
) -> AsyncIterator[AsyncDatabase[Any]]:
    """The system's database, read by the probes to count what Parley stored."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        private_stack.mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    yield client[system.env["MONGODB_DATABASE"]]
    await client.close()


@pytest.fixture(scope="session")
async def sandbox(system: ServiceGroup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.sandbox}", timeout=30
    ) as client:
        yield client


@pytest.fixture(scope="session")
def report() -> Iterator[Report]:
    figures = Report()
    yield figures
    figures.write()
    print(f"\nreliability report ({REPORT}):\n{json.dumps(figures.probes, indent=2, default=str)}")
