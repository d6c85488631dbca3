"""What a reply may contain and what it does to the discussion's workflow status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from parley_connectors.reply_rules import RuleViolation, check_reply_to
from parley_schemas import ParticipantRole, ReplyAction
from parley_schemas.text import PLAIN_TEXT_ONLY, TextRejected, clean_text, contains_html
from parley_store import DiscussionStatus

MAX_REPLY_CHARS = 10_000
REPLY_RECIPIENTS = (ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR)


class ReplyRejected(ValueError):
    """The reply breaks a rule; ``field`` names the request field at fault."""

    def __init__(self, field: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.code = code


def clean_reply_body(body: str) -> str:
    """The text to send: NFC, surrounding whitespace dropped, plain text only.

    Marketplaces show replies as plain text and several strip or refuse markup, so
    HTML is refused here, before anything is queued, rather than mangled downstream;
    so are control characters, bidi overrides and invisible-only text
    (:func:`parley_schemas.text.clean_text`, each refusal coded by its rule).
    """
    try:
        text = clean_text(body, what="a reply")
    except TextRejected as exc:
        raise ReplyRejected("body", exc.detail, exc.code) from exc
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyRejected(
            "body", f"a reply holds at most {MAX_REPLY_CHARS} characters", "too_long"
        )
    if contains_html(text):
        raise ReplyRejected("body", PLAIN_TEXT_ONLY, "html_not_accepted")
    return text


def clean_recipients(recipients: Iterable[ParticipantRole]) -> list[ParticipantRole]:
    """Each recipient once, in the order given; only the buyer and the operator."""
    cleaned = list(dict.fromkeys(recipients))
    if not cleaned:
        raise ReplyRejected("recipients", "a reply needs at least one recipient", "empty")
    for role in cleaned:
        if role not in REPLY_RECIPIENTS:
            raise ReplyRejected(
                "recipients",
                f"a reply goes to the customer or the operator, not the {role.value}",
                "invalid_recipient",
            )
    return cleaned


def check_marketplace_rules(
    family: str, marketplace: str, body: str, recipients: Sequence[ParticipantRole]
) -> None:
    """The discussion's marketplace rules (parley_connectors.reply_rules), checked before
    anything is queued: a reply the marketplace would refuse is a 422 naming the rule
    now, not a delivery that fails later."""
    try:
        check_reply_to(family, marketplace, body, recipients)
    except RuleViolation as exc:
        raise ReplyRejected(exc.field, exc.detail, exc.rule) from exc


@dataclass(frozen=True)
class StatusChange:
    """Set ``status`` to ``to``; when ``only_from`` is given, only from those statuses.

    Expressed as a condition rather than computed from a status read earlier, so the
    store applies it atomically even when someone else changes the status meanwhile.
    """

    to: DiscussionStatus
    only_from: frozenset[DiscussionStatus] | None = None

    def applies_to(self, current: DiscussionStatus) -> bool:
        return self.only_from is None or current in self.only_from


def status_change_after(action: ReplyAction) -> StatusChange:
    if action is ReplyAction.REPLY_AND_SOLVE:
        return StatusChange(DiscussionStatus.SOLVED)
    if action is ReplyAction.REPLY_AND_PENDING:
        return StatusChange(DiscussionStatus.PENDING)
    # A plain reply means someone is working on it; it never reopens a solved one.
    return StatusChange(DiscussionStatus.OPEN, only_from=frozenset({DiscussionStatus.NEW}))
