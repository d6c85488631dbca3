"""What a sync pass records about a connection's health, with fakes (no stack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from parley_connectors.errors import (
    AuthenticationFailed,
    MarketplaceUnavailable,
    PayloadError,
    RateLimited,
)
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_ingest.ports import MalformedThread
from parley_ingest.scheduler import Scheduler
from parley_ingest.sync import SyncService, sync_error
from parley_schemas import RawThreadSnapshot
from parley_store import SyncErrorKind, safe_error_message

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 2, tzinfo=UTC)
SECRET = "s3cr3t-api-key"


def connection() -> Connection:
    return Connection(
        id="c1",
        store_id="s1",
        family="mirakl",
        marketplace="carrefour",
        base_url="http://sandbox",
        credentials={"api_key": SECRET},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
    )


class Connector:
    def __init__(self, fault: Exception | None = None) -> None:
        self.fault = fault

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        if self.fault is not None:
            raise self.fault
        yield RawThreadSnapshot(
            connection_id="c1",
            store_id="s1",
            marketplace="carrefour",
            family="mirakl",
            thread_id="t1",
            updated_at=ACTIVATED + timedelta(hours=1),
            fetched_at=NOW,
        )

    async def aclose(self) -> None:
        pass


class Sink:
    async def publish(self, snapshot: RawThreadSnapshot) -> None:
        pass

    async def dead_letter(self, connection: Connection, malformed: MalformedThread) -> None:
        pass


async def outcome_of(fault: Exception | None):  # type: ignore[no-untyped-def]
    service = SyncService(lambda _c: Connector(fault), Sink())
    return await service.sync(connection(), NOW)


def test_messages_lose_query_strings_user_info_and_secrets() -> None:
    text = (
        f"GET https://user:pw@shop.example/api/messages?api_key={SECRET}&page=2#x failed:"
        f"\n 500 for key {SECRET}"
    )
    safe = safe_error_message(text, [SECRET])
    assert safe == "GET https://shop.example/api/messages failed: 500 for key ***"
    assert len(safe_error_message("x" * 5000)) == 300


async def test_a_complete_pass_is_a_success_without_error() -> None:
    outcome = await outcome_of(None)
    assert outcome.completed and outcome.error is None


async def test_each_fault_is_recorded_with_its_kind_and_a_safe_message() -> None:
    limited = await outcome_of(RateLimited(30))
    assert limited.error is not None and limited.error.kind is SyncErrorKind.RATE_LIMITED
    down = await outcome_of(MarketplaceUnavailable(f"503 from http://m/x?api_key={SECRET}"))
    assert down.error is not None and down.error.kind is SyncErrorKind.UNAVAILABLE
    assert down.error.message == "503 from http://m/x" and down.error.at == NOW
    refused = await outcome_of(AuthenticationFailed(f"401: key {SECRET} refused"))
    assert refused.error is not None and refused.error.kind is SyncErrorKind.AUTH_FAILED
    assert SECRET not in refused.error.message
    assert refused.connection.health is ConnectionHealth.NEEDS_ATTENTION
    assert SECRET not in (refused.connection.health_reason or "")
    assert not (limited.completed or down.completed or refused.completed)


def test_an_unexpected_exception_says_internal_and_nothing_of_its_text() -> None:
    error = sync_error(
        connection(), SyncErrorKind.INTERNAL, RuntimeError("mongodb://u:p@db/x"), NOW
    )
    assert error.kind is SyncErrorKind.INTERNAL
    assert "mongodb" not in error.message and "RuntimeError" in error.message
    bad = sync_error(connection(), SyncErrorKind.INTERNAL, PayloadError("bad page"), NOW)
    assert bad.message == "bad page"


@dataclass
class Repo:
    connection: Connection
    released: list[dict[str, Any]] = field(default_factory=list)

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        return [self.connection.id]

    async def claim(
        self, connection_id: str, owner: str, now: datetime, lease_seconds: int
    ) -> Connection | None:
        return self.connection

    async def release(self, connection: Connection, owner: str, **kwargs: Any) -> None:
        self.released.append(kwargs)

    async def failures(self, connection_id: str) -> int:
        return 2


class Exploding:
    def __call__(self, connection: Connection) -> Connector:
        raise KeyError("no connector")


async def pass_with(factory: Any) -> dict[str, Any]:
    repo = Repo(connection())
    scheduler = Scheduler(
        repo,
        SyncService(factory, Sink()),
        owner="me",
        tick_seconds=1,
        lease_seconds=60,
        max_concurrent=1,
    )
    await scheduler.tick()
    await scheduler.stop()
    (released,) = repo.released
    return released


async def test_the_scheduler_records_success_and_internal_faults() -> None:
    good = await pass_with(lambda _c: Connector())
    assert good["synced_at"] is not None and good["error"] is None
    bad = await pass_with(Exploding())
    assert bad.get("synced_at") is None
    assert bad["error"].kind is SyncErrorKind.INTERNAL and bad["failures"] == 3


class Events:
    def __init__(self) -> None:
        self.published: list[Any] = []

    async def publish(self, envelope: Any) -> None:
        self.published.append(envelope)


async def test_refused_credentials_are_announced_once_as_a_health_change() -> None:
    events = Events()
    for fault in (AuthenticationFailed(f"401: key {SECRET} refused"), None):
        scheduler = Scheduler(
            Repo(connection()),
            SyncService(lambda _c, f=fault: Connector(f), Sink()),
            owner="me",
            tick_seconds=1,
            lease_seconds=60,
            max_concurrent=1,
            events=events,
        )
        await scheduler.tick()
        await scheduler.stop()

    (event,) = events.published  # the healthy pass changed nothing
    assert event.type == "com.parley.connection.health_changed.v1"
    assert event.subject == "c1"
    assert (event.data.previous_health, event.data.health) == ("ok", "needs_attention")
    assert SECRET not in event.to_json_bytes().decode()
