"""A log scan: a real Rakuten sync and reply, and gateway link downloads, leak nothing.

The services' own logging set-up (``configure_logging``) captures everything logged
while ingest syncs a Rakuten account of the in-process sandbox (credentials travel in
the query string), a reply is sent through the same client (its text too), and a
real uvicorn-served gateway answers download links and cursor pages. The captured log
must hold no login, token, link signature, cursor or message text, and still say
which marketplace calls were made.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from integration.gateway.accounts import PEPPER
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import session_topic_prefix
from support.waiting import eventually

from parley_connectors.rakuten import RakutenClient
from parley_connectors.rakuten.reading import RakutenConnector
from parley_gateway.app import create_app as create_gateway
from parley_gateway.config import GatewaySettings
from parley_ingest.adapters.kafka_sink import KafkaSnapshotSink
from parley_ingest.domain.connections import Connection
from parley_ingest.sync import SyncService
from parley_platform.kafka import KafkaPublisher
from parley_platform.logging import configure_logging
from parley_sandbox import create_app as create_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Everything the process logs, rendered as the services render it."""
    configure_logging("log-scan", "INFO")
    stream = io.StringIO()
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_sandbox(seed=False)), base_url="http://sandbox"
    ) as client:
        yield client


async def test_a_rakuten_sync_and_reply_log_no_credentials_or_text(
    captured_log: io.StringIO, sandbox: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    instance = f"scan{uuid.uuid4().hex[:8]}"
    login, token = f"login-{secrets.token_hex(6)}", f"tok-{secrets.token_hex(12)}"
    buyer_text = f"Bonjour, ma commande {secrets.token_hex(6)} est-elle partie ?"
    reply_text = f"Elle part demain {secrets.token_hex(6)}"
    r = await sandbox.put(f"/_sandbox/rakuten/{instance}", json={"login": login, "token": token})
    assert r.status_code == 200, r.text
    r = await sandbox.post(
        f"/_sandbox/rakuten/{instance}/messages",
        json={"body": buyer_text, "buyer": "marie.dupont75"},
    )
    assert r.status_code == 201, r.text
    itemid = r.json()["itemid"]
    activated = datetime.now(UTC) - timedelta(hours=1)
    connection = Connection(
        id=f"c-{instance}",
        store_id=f"store-{instance}",
        family="rakuten",
        marketplace=instance,
        base_url=f"http://sandbox/rakuten/{instance}",
        credentials={"login": login, "token": token},
        activated_at=activated,
        cursor=activated,
    )
    client = RakutenClient(connection.base_url, login, token, http=sandbox, timeout=30)
    publisher = KafkaPublisher(kafka_bootstrap, "test-log-scan", session_topic_prefix())
    await publisher.start()
    try:
        sync = SyncService(lambda c: RakutenConnector(c, client), KafkaSnapshotSink(publisher))
        outcome = await sync.sync(connection, datetime.now(UTC))
        await client.contact_user(itemid, reply_text)
    finally:
        await publisher.stop()
    assert outcome.published == 1

    log = captured_log.getvalue()
    assert '"marketplace call"' in log and '"path": "/rakuten/' in log, "calls still logged"
    assert "contactuseraboutitem" in log
    for secret in (login, token, buyer_text, reply_text, "pwd="):
        assert secret not in log, f"{secret!r} leaked into the log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_gateway_access_log_hides_link_tokens_and_cursors(
    captured_log: io.StringIO,
    mongo_db: AsyncDatabase[Any],
    mongo_uri: str,
    kafka_bootstrap: str,
) -> None:
    key = secrets.token_urlsafe(32)
    port = _free_port()
    settings = GatewaySettings(
        mongodb_uri=mongo_uri,
        mongodb_database=mongo_db.name,
        kafka_bootstrap_servers=kafka_bootstrap,
        api_key_pepper=PEPPER,
        link_signing_key=key,
        public_base_url=f"http://127.0.0.1:{port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_gateway(settings), host="127.0.0.1", port=port, log_config=None)
    )
    configure_logging("log-scan", "INFO")  # uvicorn.Config touched the loggers again
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured_log)
    signer = settings.link_signer()
    assert signer is not None

    async def started() -> bool:
        return bool(server.started)

    async def access_lines() -> bool:
        return captured_log.getvalue().count('"logger": "uvicorn.access"') >= 2

    serving = asyncio.create_task(server.serve())
    try:
        await eventually(started)
        token = signer.sign("f" + uuid.uuid4().hex, datetime.now(UTC) + timedelta(hours=1))
        signature = token.rsplit(".", 1)[1]
        cursor = secrets.token_urlsafe(16)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            link = await http.get(f"/links/{token}")
            page = await http.get("/discussions", params={"cursor": cursor, "limit": 5})
        assert link.status_code in (403, 404, 410), link.text  # no such file here
        assert page.status_code == 401
        await eventually(access_lines)
    finally:
        server.should_exit = True
        await serving

    log = captured_log.getvalue()
    assert "/links/<redacted>" in log
    for secret in (token, signature, cursor):
        assert secret not in log, f"{secret!r} leaked into the log"
