"""GET /metrics on every service of the running system, and the series moving with it.

A buyer writes on a sandbox Mirakl instance, ingest syncs it, the normalizer builds the
discussion, the merchant replies through the gateway, the responder delivers it, and
an invoice is rendered; then every service's scrape is parsed as Prometheus would and
must show that: syncs and deliveries counted, records processed per topic, consumer
lag per topic/partition of each consumer group, request latency by route template (no
id in any label), invoices rendered.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup
from integration.test_invoicer_http import POLISH_ORDER
from prometheus_client.parser import text_string_to_metric_families
from support.waiting import eventually

from parley_schemas import (
    CONVERSATION_COMMANDS,
    CONVERSATION_EVENTS,
    DELIVERY_RESULTS,
    INGEST_COMMANDS,
    MARKETPLACE_RAW,
    ORDER_ALERTS,
)

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "ingest", "invoicer", "normalizer", "responder")
Samples = list[tuple[str, dict[str, str], float]]


@pytest.fixture
def instance() -> str:
    return f"e2emetrics{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store_id() -> str:
    return f"e2e-store-{uuid.uuid4().hex[:8]}"


def metrics_url(system: ServiceGroup, service: str) -> str:
    return f"http://127.0.0.1:{getattr(system.ports, service)}/metrics"


async def scrape(system: ServiceGroup, service: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(metrics_url(system, service))
    assert response.status_code == 200, f"{service}: {response.status_code}"
    assert response.headers["content-type"].startswith("text/plain"), service
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


async def scrape_all(system: ServiceGroup) -> dict[str, Samples]:
    return {service: await scrape(system, service) for service in SERVICES}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sum of the samples named ``name`` whose labels include ``labels``, None when
    there is none."""
    found = [v for n, lab, v in samples if n == name and labels.items() <= lab.items()]
    return sum(found) if found else None


def grew(before: Samples, after: Samples, name: str, **labels: str) -> bool:
    return (value(after, name, **labels) or 0.0) > (value(before, name, **labels) or 0.0)


def lag_partitions(samples: Samples, group: str) -> set[tuple[str, str]]:
    return {
        (lab["topic"], lab["partition"])
        for n, lab, _ in samples
        if n == "parley_kafka_consumer_lag" and lab.get("consumer_group") == group
    }


async def run_the_flow(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    gateway: httpx.AsyncClient,
    instance: str,
    store_id: str,
) -> str:
    """A buyer message synced, normalized, listed, replied to and delivered; an invoice
    rendered. Answers the discussion's id."""
    system.activate(
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=2,
    )
    written = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/messages",
        json={
            "body": "Bonjour, où en est ma commande ?",
            "sender": "CUSTOMER",
            "customer_name": "Camille Martin",
            "order_id": "ORDER-4711-A",
            "topic": "Livraison",
        },
    )
    assert written.status_code == 201, written.text

    async def listed() -> list[dict[str, Any]]:
        response = await gateway.get("/discussions", params={"marketplace": instance})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def discussion_listed() -> bool:
        return len(await listed()) == 1

    await eventually(discussion_listed, timeout=60)
    (item,) = await listed()
    reply = await gateway.post(
        f"/discussions/{item['id']}/replies",
        json={"body": "Elle part demain.", "action": "reply", "recipients": ["customer"]},
    )
    assert reply.status_code == 202, reply.text

    async def reply_arrived() -> bool:
        response = await sandbox.get(f"/_sandbox/mirakl/{instance}/replies")
        return len(response.json()["replies"]) >= 1

    await eventually(reply_arrived, timeout=60)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.invoicer}", timeout=60
    ) as invoicer:
        invoice = await invoicer.post("/invoices", json=copy.deepcopy(POLISH_ORDER))
    assert invoice.status_code == 201, invoice.text
    return str(item["id"])


async def test_every_service_answers_metrics_and_its_series_move(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    gateway: httpx.AsyncClient,
    instance: str,
    store_id: str,
) -> None:
    before = await scrape_all(system)
    for service, samples in before.items():
        assert value(samples, "parley_service_info", service=service) == 1, service
        assert value(samples, "process_resident_memory_bytes") is not None, service

    discussion_id = await run_the_flow(system, sandbox, gateway, instance, store_id)

    prefix = system.env["KAFKA_TOPIC_PREFIX"]
    groups: Mapping[str, tuple[str, set[str]]] = {
        "ingest": (system.env["INGEST_GROUP_ID"], {INGEST_COMMANDS.name}),
        "normalizer": (
            system.env["NORMALIZER_APP_ID"],
            {MARKETPLACE_RAW.name, DELIVERY_RESULTS.name, ORDER_ALERTS.name},
        ),
        "responder": (
            system.env["RESPONDER_APP_ID"],
            {CONVERSATION_COMMANDS.name, CONVERSATION_EVENTS.name},
        ),
    }
    after: dict[str, Samples] = {}

    async def lag_reported_everywhere() -> bool:
        after.update(await scrape_all(system))
        return all(
            {(prefix + topic, "0") for topic in topics} <= lag_partitions(after[service], group)
            for service, (group, topics) in groups.items()
        )

    # Lag needs a fetch per partition; the e2e topics have one partition each.
    await eventually(lag_reported_everywhere, timeout=30, interval=1)
    for service, (group, topics) in groups.items():
        for topic in topics:
            lag = value(
                after[service],
                "parley_kafka_consumer_lag",
                consumer_group=group,
                topic=prefix + topic,
                partition="0",
            )
            assert lag is not None and lag >= 0, (service, topic, lag)

    ingest, normalizer, responder = after["ingest"], after["normalizer"], after["responder"]
    gateway_samples, invoicer = after["gateway"], after["invoicer"]

    # ingest: the sync loop counted the Mirakl syncs that pulled the thread.
    assert grew(before["ingest"], ingest, "parley_syncs_total", family="mirakl", outcome="ok")
    assert grew(before["ingest"], ingest, "parley_sync_duration_seconds_count", family="mirakl")
    # Read on scrape (other tests of the session may flag connections: present, >= 0).
    flagged = value(ingest, "parley_connections_needing_attention", family="mirakl")
    assert flagged is not None and flagged >= 0
    assert grew(
        before["ingest"],
        ingest,
        "parley_http_request_duration_seconds_count",
        method="GET",
        route="/metrics",
        status_class="2xx",
    )

    # normalizer: the raw snapshot and the delivery results went through its stream.
    raw = prefix + MARKETPLACE_RAW.name
    results = prefix + DELIVERY_RESULTS.name
    for topic in (raw, results):
        assert grew(
            before["normalizer"],
            normalizer,
            "parley_records_processed_total",
            stage="normalizer",
            topic=topic,
        ), topic

    # responder: the reply was accepted from its topic and sent; the buyer's message
    # reached the autoresponder (not enabled for this store: skipped).
    assert grew(
        before["responder"],
        responder,
        "parley_records_processed_total",
        stage="responder",
        topic=prefix + CONVERSATION_COMMANDS.name,
    )
    assert grew(
        before["responder"], responder, "parley_deliveries_total", family="mirakl", outcome="sent"
    )
    assert grew(
        before["responder"],
        responder,
        "parley_autoresponses_total",
        outcome="skipped",
        reason="autoresponder_not_enabled",
    )
    # The services with an outbox (they store, then publish) export its backlog; the
    # others have none to show. The reply went out, so the gateway's is empty again.
    for service in ("responder", "gateway"):
        assert value(after[service], "parley_outbox_queued") is not None, service
        age = value(after[service], "parley_outbox_oldest_age_seconds")
        assert age is not None and age >= 0, service
    assert value(after["gateway"], "parley_outbox_queued") == 0
    for service in ("ingest", "normalizer", "invoicer"):
        assert value(after[service], "parley_outbox_queued") is None, f"{service} has no outbox"

    # gateway: latency by route template; the discussion's id is in no label.
    assert grew(
        before["gateway"],
        gateway_samples,
        "parley_http_request_duration_seconds_count",
        method="POST",
        route="/discussions/{discussion_id}/replies",
        status_class="2xx",
    )
    assert grew(
        before["gateway"],
        gateway_samples,
        "parley_http_request_duration_seconds_count",
        method="GET",
        route="/discussions",
        status_class="2xx",
    )
    for service, samples in after.items():
        labels = {v for _, lab, _ in samples for v in lab.values()}
        assert not any(discussion_id in v or store_id in v for v in labels), service

    # invoicer: one invoice rendered, timed, and its request counted.
    assert grew(before["invoicer"], invoicer, "parley_invoices_rendered_total", outcome="ok")
    assert grew(before["invoicer"], invoicer, "parley_invoice_render_duration_seconds_count")
    assert grew(
        before["invoicer"],
        invoicer,
        "parley_http_request_duration_seconds_count",
        method="POST",
        route="/invoices",
        status_class="2xx",
    )
