"""Retention rules (F7): the period by family, channel and status, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley_normalizer.domain.retention import (
    RetentionPolicies,
    RetentionRule,
    review,
)
from parley_store import DiscussionDocument, DiscussionStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
S = DiscussionStatus


def discussion(
    family: str = "allegro",
    channel: str = "message_center",
    status: DiscussionStatus = S.NEW,
    last_message_at: datetime | None = T0,
    seen: DiscussionStatus | None = None,
    since: datetime | None = None,
) -> DiscussionDocument:
    return DiscussionDocument(
        _id="d1",
        key="s:m:t",
        store_id="s",
        marketplace="allegro-pl",
        family=family,
        channel=channel,
        thread_id="t",
        created_at=T0 - 2 * DAY,
        last_message_at=last_message_at,
        status=status,
        retention_status=seen,
        retention_status_since=since,
    )


@pytest.mark.parametrize(
    ("status", "days"),
    [(S.NEW, 30), (S.OPEN, 30), (S.PENDING, 30), (S.SOLVED, 14), (S.CLOSED, 14)],
)
def test_allegro_keeps_30_days_in_progress_and_14_once_finished(
    status: DiscussionStatus, days: int
) -> None:
    policies = RetentionPolicies()
    for channel in ("message_center", "discussions"):
        assert policies.keep_for("allegro", channel, status) == days * DAY


@pytest.mark.parametrize("family", ["mirakl", "fnac", "rakuten", "email_relay"])
def test_other_families_use_the_configurable_default(family: str) -> None:
    assert RetentionPolicies().keep_for(family, "messages", S.SOLVED) == 365 * DAY
    assert RetentionPolicies.with_default_days(90).keep_for(family, "messages", S.NEW) == 90 * DAY


def test_a_channel_rule_beats_the_family_rule() -> None:
    policies = RetentionPolicies(
        rules=(
            RetentionRule("allegro", frozenset(S), 30 * DAY),
            RetentionRule("allegro", frozenset(S), 60 * DAY, channel="discussions"),
        )
    )
    assert policies.keep_for("allegro", "discussions", S.OPEN) == 60 * DAY
    assert policies.keep_for("allegro", "message_center", S.OPEN) == 30 * DAY


def test_periods_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RetentionPolicies(default_keep=timedelta(0))


def test_a_new_discussion_expires_after_its_last_message() -> None:
    r = review(discussion(), RetentionPolicies(), now=T0 + DAY)
    assert r.status is S.NEW and r.status_since is None
    assert r.expires_at == T0 + 30 * DAY
    assert not r.is_expired(T0 + 29 * DAY) and r.is_expired(T0 + 30 * DAY)


def test_without_messages_the_creation_dates_it() -> None:
    r = review(discussion(last_message_at=None), RetentionPolicies(), now=T0)
    assert r.expires_at == T0 - 2 * DAY + 30 * DAY


def test_solving_restarts_the_clock_with_the_finished_period() -> None:
    now = T0 + 25 * DAY  # last message 25 days ago, 5 days before in-progress expiry
    d = discussion(status=S.SOLVED, seen=S.NEW)
    r = review(d, RetentionPolicies(), now)
    assert r.status is S.SOLVED and r.status_since == now
    assert r.expires_at == now + 14 * DAY, "never deleted on the spot by being solved"


def test_solving_soon_after_the_last_message_shortens_the_expiry() -> None:
    now = T0 + DAY
    r = review(discussion(status=S.CLOSED, seen=S.OPEN), RetentionPolicies(), now)
    assert r.expires_at == now + 14 * DAY < T0 + 30 * DAY


def test_a_status_already_seen_keeps_its_date() -> None:
    seen_at = T0 + 3 * DAY
    d = discussion(status=S.SOLVED, seen=S.SOLVED, since=seen_at)
    r = review(d, RetentionPolicies(), now=T0 + 10 * DAY)
    assert r.status_since == seen_at and r.expires_at == seen_at + 14 * DAY


def test_a_newer_message_than_the_status_change_moves_the_expiry() -> None:
    d = discussion(status=S.SOLVED, seen=S.SOLVED, since=T0 - DAY, last_message_at=T0 + DAY)
    assert review(d, RetentionPolicies(), now=T0 + 2 * DAY).expires_at == T0 + 15 * DAY


def test_a_status_set_before_retention_existed_counts_as_seen_now() -> None:
    now = T0 + 40 * DAY
    r = review(discussion(status=S.SOLVED, seen=None), RetentionPolicies(), now)
    assert r.status_since == now and r.expires_at == now + 14 * DAY


def test_the_observed_time_is_stored_with_millisecond_precision() -> None:
    now = T0 + timedelta(days=1, microseconds=123_456)
    r = review(discussion(status=S.OPEN, seen=S.NEW), RetentionPolicies(), now)
    assert r.status_since is not None and r.status_since.microsecond == 123_000


def test_same_as_spares_a_write_when_nothing_changed() -> None:
    d = discussion()
    r = review(d, RetentionPolicies(), T0)
    stored = d.model_copy(
        update={
            "retention_status": r.status,
            "retention_status_since": r.status_since,
            "expires_at": r.expires_at,
        }
    )
    assert r.same_as(stored) and not r.same_as(d)
