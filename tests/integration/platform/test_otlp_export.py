"""A service process exports its spans over OTLP/HTTP as an operator configures it.

The gateway is started as a process with only the standard OpenTelemetry variables
(``OTEL_TRACES_EXPORTER=otlp``, the traces endpoint, the collector's headers, the
service name and resource attributes) pointed at the local receiver standing in for a
collector. The batch is held for ten minutes, so what arrives was flushed when the
process stopped, and what arrives holds no credential the request carried.
"""

from __future__ import annotations

import asyncio
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from devstack import Ports, ServiceGroup
from pymongo.asynchronous.database import AsyncDatabase
from support.otlp import OtlpReceiver

pytestmark = pytest.mark.integration


def _get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - local
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


async def test_the_gateway_process_exports_spans_flushed_at_exit(
    kafka_bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], tmp_path: Path
) -> None:
    api_key = f"prl_{secrets.token_urlsafe(24)}"
    cursor = secrets.token_urlsafe(18)
    with OtlpReceiver() as receiver:
        group = ServiceGroup(
            env={
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "MONGODB_URI": mongo_uri,
                "MONGODB_DATABASE": mongo_db.name,
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.endpoint}/v1/traces",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-tenant=parley-it",
                "OTEL_SERVICE_NAME": "parley-gateway-it",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=it",
                "OTEL_BSP_SCHEDULE_DELAY": "600000",  # only the exit flushes
            },
            ports=Ports.free(),
            log_dir=tmp_path,
        )
        url = f"http://127.0.0.1:{group.ports.gateway}/discussions?cursor={cursor}"
        try:
            group.start("gateway", "parley_gateway")
            await asyncio.to_thread(group.wait_healthy, ["gateway"])
            status = await asyncio.to_thread(_get, url, {"Authorization": f"Bearer {api_key}"})
            assert status == 401
            assert receiver.spans == [], "exported before the batch delay: not a flush at exit"
        finally:
            await asyncio.to_thread(group.stop, "gateway")
        spans = receiver.spans

    (server,) = [span for span in spans if span.kind == 2]  # SERVER
    assert server.name == "GET /discussions"
    assert server.resource["service.name"] == "parley-gateway-it"
    assert server.resource["deployment.environment"] == "it"
    assert server.attributes.get("http.status_code") == 401
    sent = [{name.lower(): value for name, value in h.items()} for h in receiver.headers]
    assert sent and all(h.get("x-collector-tenant") == "parley-it" for h in sent)
    texts = [text for span in spans for text in span.texts()]
    assert not [t for t in texts if api_key in t or cursor in t]
    assert not [t for t in texts if "cursor=" in t]
