"""A private Apache Kafka broker with the listeners managed clusters have.

The transport security test (tests/integration/platform/test_kafka_security.py) needs
what Strimzi, Confluent Cloud and MSK offer, not the PLAINTEXT broker of `make run`:

- ``SASL_SSL``: TLS, then SASL with SCRAM-SHA-512, SCRAM-SHA-256 (users stored in the
  cluster metadata by ``kafka-storage format --add-scram``, as KRaft wants) or PLAIN
  (users in the listener's JAAS config);
- ``SSL`` with ``ssl.client.auth=required``: mutual TLS, the client is its certificate;
- a PLAINTEXT listener for the broker's own inter-broker traffic only.

Certificates are made at start with ``trustme`` (a CA, the broker's certificate for
127.0.0.1 and localhost, a client certificate whose key is encrypted) and handed to
Kafka as PEM key and trust stores (Kafka ≥ 2.7). It reuses the jars and JDK of the
local stack (deploy/local/stack.sh installs them) and binds 127.0.0.1 on free ports.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LIBS = ROOT / ".cache" / "kafka" / "libs"
LOG4J = ROOT / "deploy" / "local" / "kafka" / "log4j.properties"

# The users the broker knows: (mechanism, name, password).
SCRAM_512_USER = ("SCRAM-SHA-512", "scram512-user", "scram-512-secret-d5c1")
SCRAM_256_USER = ("SCRAM-SHA-256", "scram256-user", "scram-256-secret-77ab")
PLAIN_USER = ("PLAIN", "plain-user", "plain-secret-0e4f")
CLIENT_KEY_PASSWORD = "client-key-secret-93c2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pkcs8_key(key_pem: bytes, password: str | None = None) -> bytes:
    """Kafka's PEM stores want PKCS#8 (trustme writes the traditional format)."""
    key = load_pem_private_key(key_pem, password=None)
    encryption = BestAvailableEncryption(password.encode()) if password else NoEncryption()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)


@dataclass
class SecureKafka:
    """One broker (KRaft, broker and controller) with SASL_SSL and mTLS listeners."""

    run_dir: Path
    sasl_ssl_port: int = field(default_factory=free_port)
    ssl_port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def sasl_ssl(self) -> str:
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def ssl(self) -> str:
        return f"127.0.0.1:{self.ssl_port}"

    @property
    def ca_file(self) -> Path:
        return self.run_dir / "ca.pem"

    @property
    def client_cert_file(self) -> Path:
        return self.run_dir / "client.pem"

    @property
    def client_key_file(self) -> Path:
        """PKCS#8, encrypted with :data:`CLIENT_KEY_PASSWORD`."""
        return self.run_dir / "client.key"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "kafka.log"

    def _write_certificates(self) -> tuple[Path, Path]:
        ca = trustme.CA()
        self.ca_file.write_bytes(ca.cert_pem.bytes())
        server = ca.issue_cert("127.0.0.1", "localhost")
        keystore = self.run_dir / "broker-keystore.pem"
        chain = b"".join(blob.bytes() for blob in server.cert_chain_pems)
        keystore.write_bytes(pkcs8_key(server.private_key_pem.bytes()) + chain)
        client = ca.issue_cert("parley-client.test")
        self.client_cert_file.write_bytes(client.cert_chain_pems[0].bytes())
        self.client_key_file.write_bytes(
            pkcs8_key(client.private_key_pem.bytes(), CLIENT_KEY_PASSWORD)
        )
        for path in (keystore, self.client_key_file):
            path.chmod(0o600)
        return keystore, self.ca_file

    def _config(self, keystore: Path, truststore: Path) -> str:
        plain_users = f'user_{PLAIN_USER[1]}="{PLAIN_USER[2]}"'
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        lines = [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=SASL_SSL://127.0.0.1:{self.sasl_ssl_port},"
            f"SSL://127.0.0.1:{self.ssl_port},INTERNAL://127.0.0.1:{self.internal_port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{self.sasl_ssl_port},"
            f"SSL://127.0.0.1:{self.ssl_port},INTERNAL://127.0.0.1:{self.internal_port}",
            "listener.security.protocol.map="
            "SASL_SSL:SASL_SSL,SSL:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=INTERNAL",
            "controller.listener.names=CONTROLLER",
            "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}",
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={scram}",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={truststore}",
            "listener.name.ssl.ssl.client.auth=required",
            f"log.dirs={self.run_dir / 'data'}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
        ]
        return "\n".join(lines) + "\n"

    def _java(self, *args: str) -> list[str]:
        jvm = [
            "-Xms128m",
            "-Xmx384m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{LOG4J}",
        ]
        return ["java", "-cp", f"{KAFKA_LIBS}/*", *jvm, *args]

    def start(self, within: float = 90.0) -> None:
        if not KAFKA_LIBS.is_dir() or shutil.which("java") is None:
            raise RuntimeError(
                "Kafka's jars or java are missing: `make stack-up` (deploy/local/stack.sh) "
                "installs them"
            )
        keystore, truststore = self._write_certificates()
        conf = self.run_dir / "server.properties"
        conf.write_text(self._config(keystore, truststore))
        scram = [
            f"--add-scram={mechanism}=[name={name},password={password}]"
            for mechanism, name, password in (SCRAM_512_USER, SCRAM_256_USER)
        ]
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                "c2VjdXJlLWthZmthLXRzdA",
                "-c",
                str(conf),
                *scram,
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                self._java("kafka.Kafka", str(conf)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + within
        while not (_port_open(self.sasl_ssl_port) and _port_open(self.ssl_port)):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_file.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"the secure Kafka broker did not start:\n{tail}")
            time.sleep(0.3)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_secure_kafka() -> SecureKafka:
    """A started broker in a fresh directory (removed by :func:`remove`)."""
    run_dir = Path(tempfile.mkdtemp(prefix="parley-secure-kafka-"))
    os.chmod(run_dir, 0o700)
    broker = SecureKafka(run_dir)
    broker.start()
    return broker


def remove(broker: SecureKafka) -> None:
    broker.stop()
    shutil.rmtree(broker.run_dir, ignore_errors=True)
