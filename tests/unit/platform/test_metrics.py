"""The metrics module: names, HELP texts and labels a platform team alerts on, the
scrape (refreshed values under a deadline), consumer lag per topic/partition, and the
stream wrapper's counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from parley_platform import metrics
from parley_platform.consumer_lag import ConsumerLag
from parley_platform.metrics import (
    KAFKA_CONSUMER_LAG,
    REGISTRY,
    method_label,
    on_scrape,
    scrape,
    status_class,
)
from parley_platform.streams import RetryPolicy, Unprocessable, consume_envelopes
from parley_schemas import (
    CONVERSATION_COMMANDS,
    REPLY_REQUESTED,
    Envelope,
    ParticipantRole,
    ReplyCommand,
)

# Every family the services export, with its labels (names without the _total suffix).
EXPECTED: dict[str, set[str]] = {
    "parley_http_request_duration_seconds": {"method", "route", "status_class"},
    "parley_kafka_consumer_lag": {"consumer_group", "topic", "partition"},
    "parley_records_processed": {"stage", "topic"},
    "parley_records_failed": {"stage", "topic", "failure_class"},
    "parley_records_dead_lettered": {"stage", "topic", "failure_class"},
    "parley_syncs": {"family", "outcome"},
    "parley_sync_duration_seconds": {"family"},
    "parley_connections_needing_attention": {"family"},
    "parley_deliveries": {"family", "outcome"},
    "parley_autoresponses": {"outcome", "reason"},
    "parley_outbox_oldest_age_seconds": set(),
    "parley_outbox_queued": set(),
    "parley_invoices_rendered": {"outcome"},
    "parley_invoice_render_duration_seconds": set(),
}
# Labels that would make series unbounded or leak what a caller sent.
FORBIDDEN_LABELS = {"path", "url", "id", "store_id", "connection_id", "command_id", "token"}


def families() -> dict[str, Any]:
    return {m.name: m for m in REGISTRY.collect()}


def sample(name: str, **labels: str) -> float | None:
    value = REGISTRY.get_sample_value(name, labels)
    return value


def test_every_family_is_declared_once_with_help_and_bounded_labels() -> None:
    # Unlabelled families join the registry only in the service that owns them.
    metrics.export(
        metrics.OUTBOX_OLDEST_AGE, metrics.OUTBOX_QUEUED, metrics.INVOICE_RENDER_DURATION
    )
    metrics.export(metrics.OUTBOX_QUEUED)  # twice is harmless
    declared = families()
    for name in EXPECTED:
        assert name in declared, name
        family = declared[name]
        assert family.documentation.strip(), f"{name} has no HELP text"
        assert len(family.documentation) > 30, f"{name}: say what it means"
    collectors = {
        c._name: set(c._labelnames)  # type: ignore[attr-defined]
        for c in (
            metrics.HTTP_REQUEST_DURATION,
            metrics.KAFKA_CONSUMER_LAG,
            metrics.RECORDS_PROCESSED,
            metrics.RECORDS_FAILED,
            metrics.RECORDS_DEAD_LETTERED,
            metrics.SYNCS,
            metrics.SYNC_DURATION,
            metrics.CONNECTIONS_NEEDING_ATTENTION,
            metrics.DELIVERIES,
            metrics.AUTORESPONSES,
            metrics.OUTBOX_OLDEST_AGE,
            metrics.OUTBOX_QUEUED,
            metrics.INVOICES_RENDERED,
            metrics.INVOICE_RENDER_DURATION,
        )
    }
    assert collectors == EXPECTED
    for name, labels in collectors.items():
        assert name.startswith("parley_")
        assert not labels & FORBIDDEN_LABELS, name


def test_outcome_label_values_are_the_documented_sets() -> None:
    assert {o.value for o in metrics.SyncOutcome} == {
        "ok",
        "auth_failed",
        "unavailable",
        "rate_limited",
        "interrupted",
        "error",
    }
    assert {o.value for o in metrics.DeliveryOutcome} == {"sent", "failed", "unknown", "retried"}


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (200, "2xx"),
        (201, "2xx"),
        (304, "3xx"),
        (404, "4xx"),
        (429, "4xx"),
        (503, "5xx"),
        (0, "5xx"),
    ],
)
def test_status_codes_are_reduced_to_their_class(status: int, label: str) -> None:
    assert status_class(status) == label


def test_methods_outside_http_are_one_label() -> None:
    assert method_label("get") == "GET"
    assert method_label("PROPFIND") == "other"
    assert method_label(None) == "other"


async def test_a_scrape_refreshes_values_and_survives_a_failing_or_hanging_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only this test's sources: a service runtime another test left running in this
    # process would set the same gauge at the same scrape.
    monkeypatch.setattr(metrics, "_refreshers", [])
    calls: list[str] = []

    async def good() -> None:
        calls.append("good")
        metrics.OUTBOX_QUEUED.set(7)

    async def broken() -> None:
        calls.append("broken")
        raise ConnectionError("database away")

    async def hanging() -> None:
        calls.append("hanging")
        await asyncio.sleep(60)

    metrics.export(metrics.OUTBOX_QUEUED)
    removers = [on_scrape(good), on_scrape(broken), on_scrape(hanging)]
    try:
        started = asyncio.get_running_loop().time()
        text = (await scrape(within=0.2)).decode()
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        for remove in removers:
            remove()
    assert sorted(calls) == ["broken", "good", "hanging"]
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["parley_outbox_queued"].samples[0].value == 7
    assert "process_cpu_seconds" in parsed  # the process collector shares the registry
    calls.clear()
    await scrape(within=0.2)
    assert calls == [], "an unregistered source is not asked again"


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


class FakeSource:
    def __init__(self) -> None:
        self.assigned: set[TP] = set()
        self.highwaters: dict[TP, int | None] = {}
        self.commits: dict[TP, int | None] = {}

    def assignment(self) -> Iterable[Any]:
        return set(self.assigned)

    def highwater(self, tp: Any) -> int | None:
        return self.highwaters.get(tp)

    async def committed(self, tp: Any) -> int | None:
        return self.commits.get(tp)


async def test_lag_is_reported_per_assigned_partition_and_dropped_when_revoked() -> None:
    source = FakeSource()
    a, b, c = TP("t.raw", 0), TP("t.raw", 1), TP("t.results", 0)
    source.assigned = {a, b, c}
    source.highwaters = {a: 10, b: 5, c: None}  # c: nothing fetched yet
    source.commits = {a: 4, b: 5, c: 0}
    lag = ConsumerLag("group-u", source)
    await lag.refresh()
    assert (
        sample("parley_kafka_consumer_lag", consumer_group="group-u", topic="t.raw", partition="0")
        == 6
    )
    assert (
        sample("parley_kafka_consumer_lag", consumer_group="group-u", topic="t.raw", partition="1")
        == 0
    )
    assert (
        sample(
            "parley_kafka_consumer_lag", consumer_group="group-u", topic="t.results", partition="0"
        )
        is None
    )

    source.assigned = {b}  # a rebalance moved partition 0 to another instance
    await lag.refresh()
    assert (
        sample("parley_kafka_consumer_lag", consumer_group="group-u", topic="t.raw", partition="0")
        is None
    )
    assert (
        sample("parley_kafka_consumer_lag", consumer_group="group-u", topic="t.raw", partition="1")
        == 0
    )

    lag.forget()
    assert not [
        s
        for s in KAFKA_CONSUMER_LAG.collect()[0].samples
        if s.labels["consumer_group"] == "group-u"
    ]


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]


@dataclass
class Event:
    message: Message
    key: bytes
    value: bytes


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def dead_letter(self, stage: str, reason: str, **_: Any) -> None:
        self.reasons.append(reason)


def reply_record(offset: int, topic: str) -> Event:
    command = ReplyCommand(
        command_id=f"cmd-metrics-{offset}",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body="Bonjour",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    envelope = Envelope[ReplyCommand](
        source="/test", type=REPLY_REQUESTED.name, subject="s", data=command
    )
    return Event(Message(topic, 0, offset, []), b"k", envelope.to_json_bytes())


async def _events(*events: Event) -> AsyncIterator[Event]:
    for event in events:
        yield event


def counted(name: str, **labels: str) -> float:
    return sample(name, **labels) or 0.0


async def test_the_stream_wrapper_counts_processed_failed_and_dead_lettered_records() -> None:
    topic = "unit.metrics.commands"
    stage = "unit-metrics"
    before = {
        "processed": counted("parley_records_processed_total", stage=stage, topic=topic),
        "bug": counted(
            "parley_records_failed_total", stage=stage, topic=topic, failure_class="bug"
        ),
        "dead_bug": counted(
            "parley_records_dead_lettered_total", stage=stage, topic=topic, failure_class="bug"
        ),
        "dead_unprocessable": counted(
            "parley_records_dead_lettered_total",
            stage=stage,
            topic=topic,
            failure_class="unprocessable",
        ),
    }

    async def handle(envelope: Envelope[Any]) -> None:
        command_id = envelope.data.command_id
        if command_id == "cmd-metrics-1":
            raise RuntimeError("a bug")
        if command_id == "cmd-metrics-2":
            raise Unprocessable("no such discussion")

    undecodable = Event(Message(topic, 0, 3, []), b"k", b"not json")
    dead = DeadLetters()
    await consume_envelopes(
        _events(
            reply_record(0, topic), reply_record(1, topic), reply_record(2, topic), undecodable
        ),
        {topic: CONVERSATION_COMMANDS},
        handle,
        dead,
        stage=stage,
        policy=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001),
    )
    assert len(dead.reasons) == 3
    assert (
        counted("parley_records_processed_total", stage=stage, topic=topic)
        == before["processed"] + 1
    )
    assert (
        counted("parley_records_failed_total", stage=stage, topic=topic, failure_class="bug")
        == before["bug"] + 2
    ), "every failed attempt counts"
    assert (
        counted("parley_records_dead_lettered_total", stage=stage, topic=topic, failure_class="bug")
        == before["dead_bug"] + 1
    )
    assert (
        counted(
            "parley_records_dead_lettered_total",
            stage=stage,
            topic=topic,
            failure_class="unprocessable",
        )
        == before["dead_unprocessable"] + 2
    ), "an unprocessable record and an undecodable one"
