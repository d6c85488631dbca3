"""Syncing one connection: cursor, dead letters and marketplace faults, with fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from parley_connectors.errors import AuthenticationFailed, MarketplaceUnavailable, RateLimited
from parley_ingest.connectors import connector_factory
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_ingest.ports import MalformedThread
from parley_ingest.sync import SyncService
from parley_schemas import RawThreadSnapshot

ACTIVATED = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 2, tzinfo=UTC)


def connection() -> Connection:
    return Connection(
        id="c1",
        store_id="s1",
        family="mirakl",
        marketplace="carrefour",
        base_url="http://sandbox",
        credentials={"api_key": "k"},
        activated_at=ACTIVATED,
        cursor=ACTIVATED,
        interval_seconds=300,
    )


def snap(thread: str, hours: int) -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c1",
        store_id="s1",
        marketplace="carrefour",
        family="mirakl",
        thread_id=thread,
        updated_at=ACTIVATED + timedelta(hours=hours),
        fetched_at=NOW,
    )


class FakeConnector:
    def __init__(self, items: list[RawThreadSnapshot | MalformedThread | Exception]) -> None:
        self.items = items
        self.asked_since: datetime | None = None
        self.closed = False

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        self.asked_since = since
        for item in self.items:
            if isinstance(item, Exception):
                raise item
            yield item

    async def aclose(self) -> None:
        self.closed = True


class Sink:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.dead: list[str] = []

    async def publish(self, snapshot: RawThreadSnapshot) -> None:
        self.published.append(snapshot.thread_id)

    async def dead_letter(self, connection: Connection, malformed: MalformedThread) -> None:
        self.dead.append(malformed.reason)


async def run(items: list[RawThreadSnapshot | MalformedThread | Exception], failures: int = 0):  # type: ignore[no-untyped-def]
    connector, sink = FakeConnector(items), Sink()
    outcome = await SyncService(lambda _c: connector, sink).sync(connection(), NOW, failures)
    return outcome, connector, sink


async def test_first_sync_starts_at_activation_and_moves_the_cursor_to_the_newest_thread() -> None:
    outcome, connector, sink = await run([snap("a", 2), snap("b", 5), snap("c", 3)])
    assert connector.asked_since == ACTIVATED
    assert sink.published == ["a", "b", "c"]
    assert outcome.connection.cursor == ACTIVATED + timedelta(hours=5)
    assert NOW + timedelta(seconds=300) <= outcome.next_sync_at <= NOW + timedelta(seconds=330)
    assert connector.closed


async def test_a_malformed_thread_is_dead_lettered_and_the_rest_goes_on() -> None:
    outcome, _, sink = await run([snap("a", 1), MalformedThread("missing id"), snap("b", 2)])
    assert sink.published == ["a", "b"]
    assert sink.dead == ["missing id"]
    assert outcome.dead_lettered == 1
    assert outcome.connection.cursor == ACTIVATED + timedelta(hours=2)


async def test_rate_limit_keeps_the_cursor_and_waits_retry_after() -> None:
    outcome, _, sink = await run([snap("a", 1), RateLimited(120.0)])
    assert sink.published == ["a"]
    assert outcome.connection.cursor == ACTIVATED
    assert outcome.next_sync_at == NOW + timedelta(seconds=120)


async def test_refused_credentials_flag_the_connection_instead_of_crashing() -> None:
    outcome, _, _ = await run([AuthenticationFailed("401 invalid key")])
    assert outcome.connection.health is ConnectionHealth.NEEDS_ATTENTION
    assert "401" in (outcome.connection.health_reason or "")


async def test_outages_back_off_more_each_time() -> None:
    first, _, _ = await run([MarketplaceUnavailable("503")], failures=0)
    fifth, _, _ = await run([MarketplaceUnavailable("503")], failures=4)
    assert first.failures == 1 and fifth.failures == 5
    assert first.connection.cursor == ACTIVATED
    assert fifth.next_sync_at - NOW > first.next_sync_at - NOW


async def test_a_sync_stops_when_its_lease_ends_and_keeps_the_cursor() -> None:
    from dataclasses import replace

    times = iter([NOW, NOW + timedelta(seconds=200), NOW + timedelta(seconds=200)])
    connector, sink = FakeConnector([snap("a", 1), snap("b", 2)]), Sink()
    leased = replace(connection(), lease_deadline=NOW + timedelta(seconds=120))
    outcome = await SyncService(lambda _c: connector, sink, clock=lambda: next(times)).sync(
        leased, NOW
    )
    assert sink.published == ["a"]
    assert outcome.connection.cursor == ACTIVATED
    assert outcome.next_sync_at == NOW + timedelta(seconds=200)


async def test_a_connection_of_an_unregistered_family_is_flagged_not_retried() -> None:
    stray = replace(connection(), family="pigeon-post")
    outcome = await SyncService(connector_factory(NoCredentials()), Sink()).sync(stray, NOW, 3)
    assert outcome.connection.health is ConnectionHealth.NEEDS_ATTENTION
    reason = outcome.connection.health_reason or ""
    assert "'pigeon-post' is not registered" in reason
    assert outcome.error is not None and "pigeon-post" in outcome.error.message
    assert outcome.failures == 0  # a person must act; the pass is not retried in a loop
    assert NOW + timedelta(seconds=300) <= outcome.next_sync_at <= NOW + timedelta(seconds=330)


class NoCredentials:
    async def get(self, connection_id: str) -> Connection | None:
        return None

    async def save_credentials(self, connection_id: str, credentials: dict[str, str]) -> None:
        raise AssertionError("no credentials are saved for a family that does not exist")
