"""Marketplace rules a reply must meet before it may leave Parley.

The gateway refuses bad replies early for a clear API error; the responder checks
again because it is the last line before the marketplace, and commands can come
from other producers than the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley_schemas import ParticipantRole, ReplyCommand
from parley_schemas.text import PLAIN_TEXT_ONLY, contains_html


@dataclass(frozen=True)
class MarketplaceRules:
    allowed_recipients: frozenset[ParticipantRole]
    max_body_length: int


FAMILY_RULES: dict[str, MarketplaceRules] = {
    # Mirakl M12 addresses the customer and/or the operator of the thread.
    "mirakl": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}),
        max_body_length=10_000,
    ),
}


class RuleViolation(ValueError):
    """The reply breaks a marketplace rule; it is failed and never sent."""


def check_reply(command: ReplyCommand, family: str) -> None:
    rules = FAMILY_RULES.get(family)
    if rules is None:
        raise RuleViolation(f"replies to the {family} family are not supported yet")
    if contains_html(command.body):
        raise RuleViolation(PLAIN_TEXT_ONLY)
    if len(command.body) > rules.max_body_length:
        raise RuleViolation(
            f"reply is {len(command.body)} characters; {family} accepts {rules.max_body_length}"
        )
    refused = set(command.recipients) - rules.allowed_recipients
    if refused:
        names = ", ".join(sorted(r.value for r in refused))
        raise RuleViolation(f"{family} does not accept replies addressed to: {names}")
