"""parley_syncs: every scheduled pass counted by family and a fixed outcome, whatever
the marketplace said, with its duration; a pass that raised counts as an error."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from unit.ingest.test_sync import NOW, connection

from parley_ingest.domain.connections import Connection
from parley_ingest.scheduler import Scheduler, counted_outcome
from parley_ingest.sync import SyncOutcome
from parley_platform.metrics import REGISTRY
from parley_platform.metrics import SyncOutcome as Counted
from parley_store import SyncError, SyncErrorKind


def failed(kind: SyncErrorKind) -> SyncOutcome:
    return SyncOutcome(connection(), NOW, 1, error=SyncError(kind=kind, message="m", at=NOW))


@pytest.mark.parametrize(
    ("outcome", "counted"),
    [
        (SyncOutcome(connection(), NOW, 0, completed=True), Counted.OK),
        (SyncOutcome(connection(), NOW, 0), Counted.INTERRUPTED),
        (failed(SyncErrorKind.AUTH_FAILED), Counted.AUTH_FAILED),
        (failed(SyncErrorKind.UNAVAILABLE), Counted.UNAVAILABLE),
        (failed(SyncErrorKind.RATE_LIMITED), Counted.RATE_LIMITED),
        (failed(SyncErrorKind.INTERNAL), Counted.ERROR),
    ],
)
def test_a_pass_maps_to_one_outcome_of_the_fixed_set(
    outcome: SyncOutcome, counted: Counted
) -> None:
    assert counted_outcome(outcome) is counted


class Repo:
    def __init__(self) -> None:
        self.released: list[Connection] = []

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        return []

    async def claim(
        self, connection_id: str, owner: str, now: datetime, lease_seconds: int
    ) -> Connection | None:
        return None

    async def release(self, connection: Connection, owner: str, **_: object) -> None:
        self.released.append(connection)

    async def failures(self, connection_id: str) -> int:
        return 0


class Service:
    def __init__(self, result: SyncOutcome | Exception) -> None:
        self.result = result

    async def sync(self, connection: Connection, now: datetime, failures: int = 0) -> SyncOutcome:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def syncs(family: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value("parley_syncs_total", {"family": family, "outcome": outcome})
    return value or 0.0


def timed(family: str) -> float:
    value = REGISTRY.get_sample_value("parley_sync_duration_seconds_count", {"family": family})
    return value or 0.0


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (SyncOutcome(connection(), NOW, 0, completed=True), "ok"),
        (RuntimeError("a bug"), "error"),
    ],
)
async def test_the_scheduler_counts_each_pass_by_family(
    result: SyncOutcome | Exception, outcome: str
) -> None:
    family = f"unit-{outcome}"
    synced = replace(connection(), family=family)
    before, before_timed = syncs(family, outcome), timed(family)
    repo = Repo()
    scheduler = Scheduler(
        repo,
        Service(result),  # type: ignore[arg-type]
        owner="unit",
        tick_seconds=1,
        lease_seconds=60,
        max_concurrent=1,
    )
    await scheduler._sync(synced)
    assert syncs(family, outcome) == before + 1
    assert timed(family) == before_timed + 1
    assert len(repo.released) == 1, "the lease is given back either way"
