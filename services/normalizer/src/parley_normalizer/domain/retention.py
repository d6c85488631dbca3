"""Retention policies (F7): how long a discussion is kept, by family, channel and status.

A discussion expires a fixed time after its last activity, and that time depends on
where it comes from and how far it got: Allegro's conversations are kept 30 days
after the last message while in progress (new, open, pending) and 14 days once
solved or closed; every other family keeps them for a configurable default.

"Last activity" is the later of the last message (or the creation, before any
message) and the last status change Parley saw. The status change counts because
otherwise solving a discussion whose last message is older than the solved period
would delete it at once, while the merchant is looking at it; a discussion reopened
after a long pause likewise gets its full in-progress period again.

Status belongs to the gateway, so the normalizer only *observes* it: whenever it
writes a discussion and on each retention sweep. The first status a discussion is
seen with is not a change (it is ``new`` on creation); any later different status
is, dated when it is observed (at most one sweep interval late).

Everything here is pure: the caller passes the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from parley_store import DiscussionDocument, DiscussionStatus

IN_PROGRESS = frozenset({DiscussionStatus.NEW, DiscussionStatus.OPEN, DiscussionStatus.PENDING})
FINISHED = frozenset({DiscussionStatus.SOLVED, DiscussionStatus.CLOSED})

DEFAULT_KEEP = timedelta(days=365)


@dataclass(frozen=True)
class RetentionRule:
    """Keep discussions of ``family`` (one ``channel`` of it, or all when None) in one
    of ``statuses`` for ``keep`` after their last activity."""

    family: str
    statuses: frozenset[DiscussionStatus]
    keep: timedelta
    channel: str | None = None

    def matches(self, family: str, channel: str, status: DiscussionStatus) -> bool:
        return (
            self.family == family
            and (self.channel is None or self.channel == channel)
            and status in self.statuses
        )


ALLEGRO_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("allegro", IN_PROGRESS, timedelta(days=30)),
    RetentionRule("allegro", FINISHED, timedelta(days=14)),
)


@dataclass(frozen=True)
class RetentionPolicies:
    """The rule table plus the default for everything no rule names."""

    rules: tuple[RetentionRule, ...] = ALLEGRO_RULES
    default_keep: timedelta = DEFAULT_KEEP
    _ordered: tuple[RetentionRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.default_keep <= timedelta(0) or any(r.keep <= timedelta(0) for r in self.rules):
            raise ValueError("retention periods must be positive")
        # A rule for one channel beats a rule for the whole family.
        ordered = sorted(self.rules, key=lambda r: r.channel is None)
        object.__setattr__(self, "_ordered", tuple(ordered))

    def keep_for(self, family: str, channel: str, status: DiscussionStatus) -> timedelta:
        for rule in self._ordered:
            if rule.matches(family, channel, status):
                return rule.keep
        return self.default_keep

    @classmethod
    def with_default_days(
        cls, days: int, rules: Iterable[RetentionRule] = ALLEGRO_RULES
    ) -> RetentionPolicies:
        return cls(rules=tuple(rules), default_keep=timedelta(days=days))


@dataclass(frozen=True)
class Retention:
    """What the discussion must store: the status seen, since when, and the expiry."""

    status: DiscussionStatus
    status_since: datetime | None
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def same_as(self, discussion: DiscussionDocument) -> bool:
        """True when storing it would change nothing (spares a write per replay)."""
        return (
            discussion.retention_status is self.status
            and discussion.retention_status_since == self.status_since
            and discussion.expires_at == self.expires_at
        )


def review(discussion: DiscussionDocument, policies: RetentionPolicies, now: datetime) -> Retention:
    """The discussion's retention given its current status and last activity."""
    status = discussion.status
    if discussion.retention_status is status:
        since = discussion.retention_status_since
    elif discussion.retention_status is None and status is DiscussionStatus.NEW:
        since = None  # first sight of a new discussion: its messages date it
    else:
        since = _to_millis(now)  # a change (or a status set before retention existed)
    last_activity = discussion.last_message_at or discussion.created_at
    anchor = max(last_activity, since) if since is not None else last_activity
    keep = policies.keep_for(discussion.family, discussion.channel, status)
    return Retention(status=status, status_since=since, expires_at=anchor + keep)


def _to_millis(moment: datetime) -> datetime:
    """BSON dates hold milliseconds: rounding here keeps a stored value equal to itself."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
