"""The whole system as processes: sandbox, ingest, normalizer, responder, invoicer, gateway.

Started once per session on free ports, against the real Kafka broker and the real
MongoDB-compatible server, with a database of its own that is dropped at the end.

Every service exports its spans over OTLP/HTTP to a receiver standing in for a
collector (:mod:`support.otlp`), and every secret of the run is known: the keys the
services are started with, the sandbox's marketplace credentials, the API keys, link
tokens and cursors the tests get. When the services have stopped (their last spans
flushed), every service log, every span and every Kafka record of the run is scanned
for each of them (and the gateway's problem answers as they come): a leak fails the
session loudly, naming the secret's label and where it was found, never its value.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from devstack import SANDBOX_CREDENTIALS, Ports, ServiceGroup, create_api_key
from pymongo import AsyncMongoClient
from support.otlp import OtlpReceiver, tracing_env
from support.secret_scan import Leak, SecretLedger, summary, topic_texts

from parley_platform.crypto import CredentialCipher
from parley_platform.logging import mask_secrets
from parley_platform.topics_admin import delete_topics, ensure_topics
from parley_store import GridFsFileStore


@pytest.fixture(scope="session")
def e2e_database() -> str:
    return f"parley_e2e_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def e2e_topics(kafka_bootstrap: str) -> AsyncIterator[str]:
    """The system under test gets topics of its own: no other test's records reach it."""
    prefix = f"e2e{uuid.uuid4().hex[:10]}."
    await ensure_topics(kafka_bootstrap, 1, prefix)
    yield prefix
    await delete_topics(kafka_bootstrap, prefix)


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """The collector the services export their spans to."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def secret_ledger() -> SecretLedger:
    """Every secret of the run, by label; tests and hooks add what they are handed."""
    ledger = SecretLedger()
    # The sandbox's marketplace credentials, as the tests activate connections with
    # them (devstack.sandbox_credentials): Rakuten's token travels in query strings,
    # Allegro's client secret as Basic credentials, refresh tokens in form bodies.
    ledger.add("Mirakl API key", SANDBOX_CREDENTIALS["mirakl"]["api_key"])
    allegro = SANDBOX_CREDENTIALS["allegro"]
    ledger.add_basic("Allegro client secret", allegro["client_id"], allegro["client_secret"])
    ledger.add("Allegro refresh token", "sandbox-refresh-token-")
    ledger.add("Fnac key", SANDBOX_CREDENTIALS["fnac"]["key"])
    ledger.add("Rakuten token", SANDBOX_CREDENTIALS["rakuten"]["token"])
    return ledger


@pytest.fixture(scope="session")
def problem_leaks() -> list[Leak]:
    """Secrets found in problem+json answers of the gateway (see :func:`gateway`)."""
    return []


@pytest.fixture(scope="session")
def system(
    kafka_bootstrap: str,
    mongo_uri: str,
    e2e_database: str,
    e2e_topics: str,
    otlp_receiver: OtlpReceiver,
    secret_ledger: SecretLedger,
    problem_leaks: list[Leak],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceGroup]:
    keys = {
        "CREDENTIALS_KEY": CredentialCipher.generate_key(),
        "API_KEY_PEPPER": secrets.token_urlsafe(32),
        "LINK_SIGNING_KEY": secrets.token_urlsafe(32),
    }
    for name, value in keys.items():
        secret_ledger.add(name, value)
    group = ServiceGroup(
        env={
            **keys,
            **tracing_env(otlp_receiver),
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": e2e_database,
            "KAFKA_TOPIC_PREFIX": e2e_topics,
            "NORMALIZER_APP_ID": f"parley-normalizer-{e2e_topics.rstrip('.')}",
            "RESPONDER_APP_ID": f"parley-responder-{e2e_topics.rstrip('.')}",
            "INGEST_GROUP_ID": f"parley-ingest-{e2e_topics.rstrip('.')}",
            "INGEST_TICK_SECONDS": "0.5",
            "RESPONDER_BASE_DELAY_SECONDS": "0.2",
            "SANDBOX_SEED": "0",
            # Download links (F18) expire within a test; the key and the public URL are
            # devstack's defaults (one key per run, the gateway's own port).
            "LINK_TTL_SECONDS": "30",
        },
        ports=Ports.free(),
        # The run's own logs: the secret scan reads all of them and nothing older.
        log_dir=tmp_path_factory.mktemp("e2e-logs"),
    )
    try:
        group.start_sandbox()
        group.start_services()
        yield group
    finally:
        group.stop_all()  # the services flush their last spans as they exit
    records = topic_texts(kafka_bootstrap, e2e_topics)
    scan_for_secrets(group, otlp_receiver, records, secret_ledger, problem_leaks)


# Parley's processes; the sandbox plays the marketplaces and its log is theirs.
SCANNED_SERVICES = ("ingest", "normalizer", "responder", "invoicer", "gateway")


def scan_for_secrets(
    group: ServiceGroup,
    receiver: OtlpReceiver,
    records: list[tuple[str, str]],
    ledger: SecretLedger,
    problem_leaks: list[Leak],
) -> None:
    """Fails the session if any known secret (or an unmasked secret shape) is in a
    service log, an exported span, a Kafka record or a problem response of the run.
    The scan must have something to look at: every service logged, the services
    exported spans and published records."""
    logs = [group.log_path(name) for name in SCANNED_SERVICES]
    missing = [path.name for path in logs if not path.exists() or not path.stat().st_size]
    assert not missing, f"no log to scan: {missing}"
    lines, leaks = ledger.scan_logs(logs)
    spans = [span for span in receiver.spans if span.service != "sandbox"]
    exporting = {span.service for span in spans}
    assert {"ingest", "gateway"} <= exporting, f"spans only from {sorted(exporting)}"
    leaks += ledger.scan_spans(spans)
    assert records, "no Kafka record to scan"
    leaks += ledger.scan_records(records)
    leaks += problem_leaks
    if leaks:
        pytest.fail(
            f"secrets leaked ({len(ledger)} secrets checked in {lines} log lines, "
            f"{len(spans)} spans and {len(records)} records):\n{summary(leaks)}",
            pytrace=False,
        )


# Capability tokens the gateway hands out: download links (in replies the sandbox
# received, in API answers) and listing cursors.
LINK_TOKEN = re.compile(r"/links/([A-Za-z0-9._~-]{16,})")
CURSOR = re.compile(r'"next_cursor"\s*:\s*"([^"]+)"')


def harvest(ledger: SecretLedger, problem_leaks: list[Leak] | None = None) -> Any:
    """An httpx response hook adding the tokens an answer carries to the ledger, and
    checking that a problem+json answer (of Parley: ``problem_leaks`` given) quotes no
    secret."""

    async def hook(response: httpx.Response) -> None:
        if "json" not in response.headers.get("content-type", ""):
            return
        text = (await response.aread()).decode(errors="replace")
        for token in LINK_TOKEN.findall(text):
            ledger.add("download-link token", token, message_content=True)
        for cursor in CURSOR.findall(text):
            if len(cursor) >= 8:
                ledger.add("cursor", cursor)
        problem = response.headers["content-type"].startswith("application/problem+json")
        if problem and problem_leaks is not None:
            path = mask_secrets(response.request.url.path)  # the report must not leak it
            where = f"problem response to {response.request.method} {path}"
            problem_leaks.extend(ledger.leaks(text, where))

    return hook


@pytest.fixture(scope="session", autouse=True)
async def drop_e2e_database(mongo_uri: str, e2e_database: str) -> AsyncIterator[None]:
    yield
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    await client.drop_database(e2e_database)
    await client.close()


@pytest.fixture
async def gateway(
    system: ServiceGroup, store_id: str, secret_ledger: SecretLedger, problem_leaks: list[Leak]
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with an API key of an account owning the test's store (the ``store_id``
    fixture of the test's module), made through the gateway CLI as an operator would.
    The key, and the link tokens and cursors the gateway answers, go to the ledger."""
    key = create_api_key(system, f"e2e-{store_id}", [store_id])
    secret_ledger.add("API key", key)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.gateway}",
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
        event_hooks={"response": [harvest(secret_ledger, problem_leaks)]},
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def sandbox(
    system: ServiceGroup, secret_ledger: SecretLedger
) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's control API; the link tokens in replies it received go to the ledger."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.sandbox}",
        timeout=10,
        event_hooks={"response": [harvest(secret_ledger)]},
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def e2e_files(mongo_uri: str, e2e_database: str) -> AsyncIterator[GridFsFileStore]:
    """Parley's file store as the system under test writes it (attachments, F4)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    yield GridFsFileStore(client[e2e_database])
    await client.close()
