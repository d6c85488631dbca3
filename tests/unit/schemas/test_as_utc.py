"""``as_utc``: the one rule every stored or compared date goes through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from parley_schemas import as_utc


def test_a_naive_date_is_taken_as_utc_already() -> None:
    # BSON dates come back naive from a client that is not tz-aware: same wall clock.
    assert as_utc(datetime(2026, 4, 1, 9, 30)) == datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
    assert as_utc(datetime(2026, 4, 1, 9, 30)).tzinfo is UTC


def test_an_offset_date_becomes_the_same_instant_in_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    moved = as_utc(datetime(2016, 8, 29, 17, 53, 51, tzinfo=paris_summer))
    assert moved.tzinfo is UTC
    assert moved.isoformat() == "2016-08-29T15:53:51+00:00"


def test_a_utc_date_is_kept() -> None:
    moment = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert as_utc(moment) == moment
    assert as_utc(moment).isoformat() == moment.isoformat()
