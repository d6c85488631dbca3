"""Whether a discussion waits for the shop's reply, and by when (issue: reply deadlines).

A reply deadline drives a support team's day (Amazon's 24-hour rule, Mirakl operators'
"reply needed" flags, Allegro's response-time metric), so the inbox shows it and can
list what is due first. Two sources, the marketplace's own word first:

- the marketplace's signal, where it gives one (Mirakl M11 ``shop_reply_needed_since``):
  a reply is expected since then, until the shop answers after that moment (our reply
  counts at once; the marketplace's next sync agrees or says otherwise);
- otherwise the messages: the oldest message from the buyer or the operator that no
  reply of the shop followed (the deadline runs from the first question, as
  marketplaces count it).

The deadline is that moment plus the family's reply window
(:func:`parley_connectors.reply_rules.reply_window`). A pure function of the
discussion's summary fields, so replaying records changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from parley_schemas import as_utc


@dataclass(frozen=True)
class ReplyDue:
    expected: bool
    since: datetime | None
    due_at: datetime | None

    def fields(self) -> dict[str, object]:
        return {
            "reply_expected": self.expected,
            "reply_expected_since": self.since,
            "reply_due_at": self.due_at,
        }


NOT_EXPECTED = ReplyDue(expected=False, since=None, due_at=None)


def reply_due(
    *,
    unanswered_since: datetime | None,
    last_reply_at: datetime | None,
    signal: bool,
    signal_since: datetime | None,
    window: timedelta,
) -> ReplyDue:
    since = signal_since if signal else unanswered_since
    if since is None:
        return NOT_EXPECTED
    since = as_utc(since)
    if last_reply_at is not None and as_utc(last_reply_at) >= since:
        return NOT_EXPECTED
    return ReplyDue(expected=True, since=since, due_at=since + window)
