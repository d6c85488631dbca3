"""Traces as an operator's collector receives them from the running services.

Every service of the e2e system exports its spans over OTLP/HTTP to the session's
receiver (tests/support/otlp.py). A scheduled poll starts a trace of its own: the raw
snapshots it publishes carry that trace's context, and the normalizer's handling of
them joins it; so does a relayed mail. A reply's delivery attempt is a trace of its
own too, linked to the API request that queued it, and its result carries it. The
gateway's request spans are named by route template and keep no raw path, query
string or credential.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from devstack import ServiceGroup
from support.kafka import Record, TopicProbe
from support.otlp import OtlpReceiver, ReceivedSpan
from support.waiting import eventually

from parley_schemas import DELIVERY_RESULTS, MARKETPLACE_RAW

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store_id(suffix: str) -> str:
    return f"e2e-tracing-{suffix}"


def traceparent(record: Record) -> tuple[str, str]:
    """(trace id, parent span id) of a record's W3C ``traceparent`` header."""
    header = record.headers.get("traceparent")
    assert header is not None, f"record at offset {record.offset} carries no trace context"
    version, trace_id, span_id, _flags = header.decode().split("-")
    assert version == "00"
    return trace_id, span_id


async def test_a_polls_raw_snapshots_carry_its_trace_into_the_normalizer(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    otlp_receiver: OtlpReceiver,
    kafka_bootstrap: str,
    e2e_topics: str,
    store_id: str,
    suffix: str,
) -> None:
    instance = f"e2et{suffix}"
    connection_id = f"{store_id}-{instance}"
    for n in range(2):
        answer = await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={"body": f"Bonjour, où en est ma commande ? ({n})", "sender": "CUSTOMER"},
        )
        assert answer.status_code == 201, answer.text

    def ours(record: Record) -> bool:
        data: dict[str, Any] = record.envelope().data.model_dump()
        return bool(data.get("connection_id") == connection_id)

    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW, e2e_topics) as raw:
        system.activate_family(
            "mirakl",
            connection_id,
            store_id,
            instance,
            since=datetime.now(UTC) - timedelta(minutes=1),
            interval_seconds=60,
        )
        snapshots = await raw.wait_for(ours, count=2, timeout=TIMEOUT)

    contexts = {traceparent(record) for record in snapshots}
    (trace_id,) = {trace_id for trace_id, _ in contexts}  # one poll published both
    (parent_id,) = {span_id for _, span_id in contexts}

    def poll_and_normalizer(spans: list[ReceivedSpan]) -> bool:
        in_trace = [s for s in spans if s.trace_id == trace_id]
        return any(s.service == "ingest" for s in in_trace) and any(
            s.service == "normalizer" for s in in_trace
        )

    spans = otlp_receiver.wait_for(poll_and_normalizer, timeout=TIMEOUT)
    in_trace = [span for span in spans if span.trace_id == trace_id]
    (poll,) = [span for span in in_trace if span.service == "ingest"]
    assert poll.name == "poll mirakl"
    assert poll.is_root, "a scheduled poll starts its own trace"
    assert poll.span_id == parent_id, "the snapshots were published inside the poll's span"
    assert poll.attributes["parley.connection.id"] == connection_id
    assert poll.resource["service.name"] == "ingest"
    consumed = [span for span in in_trace if span.service == "normalizer"]
    assert consumed and all(span.parent_span_id == poll.span_id for span in consumed)
    assert all(span.name.startswith("normalizer ") for span in consumed)


async def test_gateway_request_spans_name_the_route_not_the_raw_path(
    gateway: httpx.AsyncClient, otlp_receiver: OtlpReceiver, suffix: str
) -> None:
    """The caller's trace context is honoured, so the request's span is found by it."""
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    missing = f"d-missing-{suffix}"
    answer = await gateway.get(
        f"/discussions/{missing}",
        params={"cursor": f"c-{suffix}"},
        headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
    )
    assert answer.status_code in (400, 404, 422), answer.text

    def server_span(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [
            s
            for s in spans
            if s.trace_id == trace_id and s.service == "gateway" and s.parent_span_id == caller_span
        ]

    spans = otlp_receiver.wait_for(lambda spans: bool(server_span(spans)), timeout=TIMEOUT)
    (server,) = server_span(spans)
    assert server.name == "GET /discussions/{discussion_id}"
    assert server.attributes.get("http.route") == "/discussions/{discussion_id}"
    in_trace = [span for span in spans if span.trace_id == trace_id]
    leaked = [text for span in in_trace for text in span.texts() if suffix in text]
    assert not leaked, "the raw path or query string reached a span"


def _in(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.trace_id == trace_id]


async def test_a_relayed_mail_is_a_trace_of_its_own_carried_by_its_snapshot(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    otlp_receiver: OtlpReceiver,
    kafka_bootstrap: str,
    e2e_topics: str,
    store_id: str,
    suffix: str,
) -> None:
    inbound = system.activate_family(
        "email_relay",
        f"{store_id}-amazon-fr",
        store_id,
        "",
        marketplace="amazon-fr",
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=60,
    ).splitlines()[-1]
    digits = f"{uuid.uuid4().int % 10**17:017d}"
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW, e2e_topics) as raw:
        relayed = await sandbox.post(
            "/_sandbox/email/inbound",
            json={
                "to": inbound,
                "marketplace": "amazon",
                "tld": "fr",
                "buyer_name": "Léa Moreau",
                "buyer_alias": f"e2e{suffix}buyer",
                "order_id": f"{digits[:3]}-{digits[3:10]}-{digits[10:]}",
                "body": "Bonjour, le colis n'est pas arrivé.",
            },
        )
        assert relayed.status_code == 200 and relayed.json()["accepted"], relayed.text
        (snapshot,) = await raw.wait_for(
            lambda r: r.envelope().data.model_dump().get("store_id") == store_id, timeout=TIMEOUT
        )
    trace_id, parent_id = traceparent(snapshot)
    spans = otlp_receiver.wait_for(
        lambda spans: any(s.service == "ingest" for s in _in(spans, trace_id)), timeout=TIMEOUT
    )
    (mail,) = [span for span in _in(spans, trace_id) if span.service == "ingest"]
    assert mail.name == "inbound mail"
    assert mail.is_root and mail.span_id == parent_id


async def test_a_reply_delivery_is_a_trace_linked_to_the_request_that_queued_it(
    system: ServiceGroup,
    sandbox: httpx.AsyncClient,
    gateway: httpx.AsyncClient,
    otlp_receiver: OtlpReceiver,
    kafka_bootstrap: str,
    e2e_topics: str,
    store_id: str,
    suffix: str,
) -> None:
    instance = f"e2et{suffix}"
    written = await sandbox.post(
        f"/_sandbox/mirakl/{instance}/messages",
        json={"body": "Bonjour, un retour est-il possible ?", "sender": "CUSTOMER"},
    )
    assert written.status_code == 201, written.text
    system.activate_family(
        "mirakl",
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=datetime.now(UTC) - timedelta(minutes=1),
        interval_seconds=60,
    )
    items: list[dict[str, Any]] = []

    async def listed() -> bool:
        answer = await gateway.get("/discussions", params={"store_id": store_id})
        items[:] = answer.json()["items"]
        return bool(items)

    await eventually(listed, timeout=TIMEOUT)
    request_trace = uuid.uuid4().hex
    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS, e2e_topics) as results:
        accepted = await gateway.post(
            f"/discussions/{items[0]['id']}/replies",
            json={"body": f"Oui, sous 30 jours ({suffix}).", "recipients": ["customer"]},
            headers={"traceparent": f"00-{request_trace}-{uuid.uuid4().hex[:16]}-01"},
        )
        assert accepted.status_code == 202, accepted.text
        command_id = accepted.json()["command_id"]

        def sent(record: Record) -> bool:
            data = record.envelope().data.model_dump()
            return bool(data.get("command_id") == command_id and data.get("state") == "sent")

        (result,) = await results.wait_for(sent, timeout=TIMEOUT)

    trace_id, parent_id = traceparent(result)

    def delivered(spans: list[ReceivedSpan]) -> bool:
        return any(s.name == "deliver reply" for s in _in(spans, trace_id))

    spans = otlp_receiver.wait_for(delivered, timeout=TIMEOUT)
    (delivery,) = [s for s in _in(spans, trace_id) if s.name == "deliver reply"]
    assert delivery.service == "responder" and delivery.is_root
    assert delivery.attributes["parley.command.id"] == command_id
    assert [trace for trace, _, _ in delivery.links] == [request_trace], (
        "linked to the responder's consumer span, in the API request's trace"
    )
    assert parent_id in {s.span_id for s in _in(spans, trace_id)} | {delivery.span_id}
