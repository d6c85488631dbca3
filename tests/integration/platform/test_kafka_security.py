"""Every kind of Kafka client of Parley over the listeners managed clusters have.

One private broker for the module (tests/support/secure_kafka.py): SASL_SSL with
SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN users, and SSL requiring a client certificate,
with certificates made for this run. The settings come from the environment exactly as
a deployment sets them (passwords through ``*_FILE`` secret files, the client key
encrypted), and each variant proves the topics admin, the healthcheck, the readiness
probe, the publisher, the plain consumer and a Faust app (produce and consume through
an agent) against it. A wrong password or a missing client certificate fails at once,
saying why, without the secret. The PLAINTEXT broker of `make run` is untouched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from support.secure_kafka import (
    CLIENT_KEY_PASSWORD,
    PLAIN_USER,
    ROOT,
    SCRAM_256_USER,
    SCRAM_512_USER,
    SecureKafka,
    free_port,
    remove,
    start_secure_kafka,
)

from parley_platform.consumer import run_consumer
from parley_platform.healthcheck import kafka_ready
from parley_platform.kafka import KafkaPublisher
from parley_platform.kafka_security import KafkaSecurity
from parley_platform.readiness import KafkaProbe, check_readiness
from parley_platform.settings import ServiceSettings, load_settings
from parley_platform.streams import create_app
from parley_platform.topics_admin import ensure_topics
from parley_schemas import MARKETPLACE_RAW, THREAD_SNAPSHOT, Envelope, RawThreadSnapshot

pytestmark = pytest.mark.integration

# Every variable a deployment may set; cleared first so the outer environment (the
# shared PLAINTEXT stack's KAFKA_BOOTSTRAP_SERVERS) never leaks into a variant.
KAFKA_VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SASL_PASSWORD_FILE",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "KAFKA_SSL_KEY_PASSWORD",
    "KAFKA_SSL_KEY_PASSWORD_FILE",
    "KAFKA_SSL_CHECK_HOSTNAME",
)
FAILS_WITHIN = 15.0  # a refused connection must fail by then, never hang


@pytest.fixture(scope="module")
def broker() -> Iterator[SecureKafka]:
    started = start_secure_kafka()
    try:
        yield started
    finally:
        remove(started)


def _secret_file(broker: SecureKafka, name: str, value: str) -> str:
    """A mounted secret as Kubernetes writes it: the value and a newline."""
    path = broker.run_dir / f"{name}-{uuid.uuid4().hex[:6]}"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return str(path)


def _sasl(
    user: tuple[str, str, str], *, from_file: bool
) -> Callable[[SecureKafka], dict[str, str]]:
    mechanism, name, password = user

    def env(broker: SecureKafka) -> dict[str, str]:
        values = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.sasl_ssl,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": mechanism,
            "KAFKA_SASL_USERNAME": name,
            "KAFKA_SSL_CAFILE": str(broker.ca_file),
        }
        if from_file:
            values["KAFKA_SASL_PASSWORD_FILE"] = _secret_file(broker, "sasl", password)
        else:
            values["KAFKA_SASL_PASSWORD"] = password
        return values

    return env


def _mtls(broker: SecureKafka) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": broker.ssl,
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CAFILE": str(broker.ca_file),
        "KAFKA_SSL_CERTFILE": str(broker.client_cert_file),
        "KAFKA_SSL_KEYFILE": str(broker.client_key_file),
        "KAFKA_SSL_KEY_PASSWORD_FILE": _secret_file(broker, "key", CLIENT_KEY_PASSWORD),
    }


VARIANTS: dict[str, Callable[[SecureKafka], dict[str, str]]] = {
    "sasl_ssl-scram-sha-512": _sasl(SCRAM_512_USER, from_file=True),
    "sasl_ssl-scram-sha-256": _sasl(SCRAM_256_USER, from_file=True),
    "sasl_ssl-plain": _sasl(PLAIN_USER, from_file=False),
    "ssl-mutual-tls": _mtls,
}


def _settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ServiceSettings:
    for name in KAFKA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(ServiceSettings, "test")  # as a service reads them


def _snapshot(thread: str) -> Envelope[RawThreadSnapshot]:
    snap = RawThreadSnapshot(
        connection_id="c",
        store_id="s1",
        marketplace="carrefour",
        family="mirakl",
        thread_id=thread,
        fetched_at=datetime.now(UTC),
    )
    return Envelope[RawThreadSnapshot](
        source="/test", type=THREAD_SNAPSHOT.name, subject=str(snap.key), data=snap
    )


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_every_client_works_over_the_secured_listener(
    broker: SecureKafka,
    variant: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    prefix = f"sec{uuid.uuid4().hex[:8]}."
    settings = _settings(monkeypatch, VARIANTS[variant](broker) | {"KAFKA_TOPIC_PREFIX": prefix})
    settings.data_dir = tmp_path / "data"
    security = KafkaSecurity.of(settings)
    bootstrap = settings.kafka_bootstrap_servers

    # Topics admin and the start-up healthcheck.
    created = await ensure_topics(bootstrap, 1, prefix, security=security)
    assert prefix + MARKETPLACE_RAW.name in created
    assert await kafka_ready(bootstrap, security)

    # Readiness probe, as /ready runs it.
    probe = KafkaProbe(bootstrap, security=security)
    try:
        readiness = await check_readiness({"kafka": probe})
    finally:
        await probe.close()
    assert readiness.checks == {"kafka": "ok"}

    # Publisher, then the plain consumer (ingest's) reading the record back.
    publisher = KafkaPublisher.from_settings(settings, f"test-{variant}")
    consumed: asyncio.Future[Envelope[Any]] = asyncio.get_running_loop().create_future()

    async def handle(envelope: Envelope[Any]) -> None:
        if not consumed.done():
            consumed.set_result(envelope)

    sent = _snapshot(uuid.uuid4().hex)
    consumer = asyncio.create_task(
        run_consumer(
            bootstrap,
            f"sec-consumer-{uuid.uuid4().hex[:6]}",
            MARKETPLACE_RAW,
            handle,
            publisher,
            stage="test",
            topic_prefix=prefix,
            security=security,
        )
    )
    try:
        await publisher.publish(MARKETPLACE_RAW, sent)
        received = await asyncio.wait_for(consumed, 30)
        assert received.id == sent.id
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await publisher.stop()

    # A Faust app: consumes the published record and one of its own producing.
    monkeypatch.chdir(tmp_path)  # nothing may be written into the working directory
    app = create_app(f"sec-faust-{uuid.uuid4().hex[:8]}", settings, web_port=free_port())
    topic = app.topic(prefix + MARKETPLACE_RAW.name, key_serializer="raw", value_serializer="raw")
    seen: list[bytes] = []
    both = asyncio.Event()

    @app.agent(topic)
    async def agent(stream: Any) -> None:
        async for key, _value in stream.items():  # the discussion key, then Faust's own
            seen.append(key)
            if len(seen) >= 2:
                both.set()

    app.finalize()
    await app.start()
    try:
        await topic.send(key=b"from-faust", value=b"{}")
        await asyncio.wait_for(both.wait(), 60)
    finally:
        await app.stop()
    assert seen == [sent.subject.encode(), b"from-faust"]
    written = _written(tmp_path)
    assert {path.split("/")[0] for path in written} == {"data"}
    assert f"data/{app.conf.id}/v1" in written  # Faust's own state went there


def _written(directory: Path) -> list[str]:
    """Every directory under ``directory``, relative to it."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_dir())


async def _refused(
    settings: ServiceSettings, caplog: pytest.LogCaptureFixture, secret: str
) -> tuple[float, str]:
    """How long the publisher took to fail, and everything it said about it."""
    publisher = KafkaPublisher.from_settings(settings, "test-refused")
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(KafkaConnectionError) as failed:
        await publisher.start()
    took = time.monotonic() - started
    await publisher.stop()
    said = str(failed.value) + "\n" + caplog.text
    assert secret not in said
    return took, said


async def test_a_wrong_password_fails_at_once_saying_why(
    broker: SecureKafka, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password-5b1e"
    env = _sasl(SCRAM_512_USER, from_file=False)(broker) | {"KAFKA_SASL_PASSWORD": wrong}
    took, said = await _refused(_settings(monkeypatch, env), caplog, wrong)
    assert took < FAILS_WITHIN
    assert "SaslAuthenticationFailed" in said and "invalid credentials" in said

    probe = KafkaProbe(broker.sasl_ssl, security=KafkaSecurity.of(_settings(monkeypatch, env)))
    try:
        readiness = await check_readiness({"kafka": probe})
    finally:
        await probe.close()
    assert readiness.checks["kafka"] == "failed (KafkaConnectionError)"


async def test_mutual_tls_without_a_client_certificate_is_refused(
    broker: SecureKafka, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.ssl,
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CAFILE": str(broker.ca_file),
    }
    took, _ = await _refused(_settings(monkeypatch, env), caplog, CLIENT_KEY_PASSWORD)
    assert took < FAILS_WITHIN


def test_the_healthcheck_command_reads_the_security_settings_from_the_environment(
    broker: SecureKafka,
) -> None:
    prefix = f"seccli{uuid.uuid4().hex[:6]}."
    env = {k: v for k, v in os.environ.items() if k not in KAFKA_VARIABLES}
    env |= _sasl(SCRAM_512_USER, from_file=True)(broker)
    command = [sys.executable, "-m", "parley_platform.healthcheck", "--kafka"]
    done = subprocess.run(
        [*command, "--create-topics", "--topic-prefix", prefix, "--timeout", "30"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert prefix + MARKETPLACE_RAW.name in done.stderr  # "topics created: ..."
