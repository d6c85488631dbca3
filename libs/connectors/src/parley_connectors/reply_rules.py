"""The one checker of marketplace rules a reply must meet before it may leave Parley.

Each family declares its own rules (``ReplyRules`` in its ``family`` module); this
module applies them the same way on both sides of a reply: the gateway refuses a reply
that breaks a rule before anything is queued (422 naming the rule, so the merchant can
fix it at once), and the responder checks again as the last line before the
marketplace, because commands can come from other producers than the gateway and a
marketplace instance's limits can change between the two. A marketplace instance may
be stricter than its family (``instance_body_limit``: a Mirakl operator's own body
limit); then its limit applies.

Each family also has a reply deadline policy (:func:`reply_window`): how long the shop
has to answer a message that expects a reply, counted from the marketplace's own
"reply needed since" where it gives one, else from the buyer's or operator's last
message not answered yet. A family may also file documents on orders
(:func:`order_document_due`, :func:`order_document_type`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from parley_connectors.family import DEFAULT_REPLY_WINDOW, ReplyRules
from parley_connectors.registry import families
from parley_schemas import InvoiceKind, ParticipantRole, ReplyCommand
from parley_schemas.text import PLAIN_TEXT_ONLY, contains_html

# The rules a violation names (``RuleViolation.rule``), as API clients see them.
FAMILY_NOT_SUPPORTED = "family_not_supported"
PLAIN_TEXT = "html_not_accepted"
BODY_TOO_LONG = "too_long_for_marketplace"
RECIPIENT_NOT_ACCEPTED = "recipient_not_accepted"


class RuleViolation(ValueError):
    """The reply breaks a marketplace rule; it is refused (gateway) or failed and never
    sent (responder). ``field`` is the reply field at fault, ``rule`` the rule's name."""

    def __init__(self, detail: str, *, field: str = "body", rule: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.rule = rule


def rules_of(family: str) -> ReplyRules | None:
    """The family's declared rules; None for a family no folder declares."""
    found = families().get(family)
    return found.rules if found is not None else None


def reply_window(family: str, marketplace: str) -> timedelta:
    """How long the shop has to answer a message that expects a reply on that
    marketplace; a family Parley does not know gets the default 48 h."""
    found = families().get(family)
    return found.reply_window(marketplace) if found is not None else DEFAULT_REPLY_WINDOW


def body_limit(family: str, marketplace: str, rules: ReplyRules) -> tuple[int, str]:
    """The longest body allowed, and who sets it: the family, or a stricter instance."""
    if rules.instance_body_limit is not None:
        stricter = rules.instance_body_limit(marketplace)
        if stricter is not None and stricter[0] < rules.max_body_length:
            return stricter
    return rules.max_body_length, family


def check_reply_to(
    family: str,
    marketplace: str,
    body: str,
    recipients: Iterable[ParticipantRole],
    *,
    rules: ReplyRules | None = None,
) -> None:
    """Raises :class:`RuleViolation` naming the first rule the reply breaks.

    ``rules`` overrides the family's declared ones (a test of an instance's limits)."""
    rules = rules or rules_of(family)
    if rules is None:
        raise RuleViolation(
            f"replies to the {family} family are not supported: no family folder declares it",
            field="discussion_id",
            rule=FAMILY_NOT_SUPPORTED,
        )
    if contains_html(body):
        raise RuleViolation(PLAIN_TEXT_ONLY, rule=PLAIN_TEXT)
    limit, set_by = body_limit(family, marketplace, rules)
    if len(body) > limit:
        raise RuleViolation(
            f"reply is {len(body)} characters; {set_by} accepts {limit}", rule=BODY_TOO_LONG
        )
    refused = set(recipients) - rules.allowed_recipients
    if refused:
        names = ", ".join(sorted(r.value for r in refused))
        raise RuleViolation(
            f"{family} does not accept replies addressed to: {names}",
            field="recipients",
            rule=RECIPIENT_NOT_ACCEPTED,
        )


def check_reply(command: ReplyCommand, family: str, *, rules: ReplyRules | None = None) -> None:
    """:func:`check_reply_to` on a queued command (the responder's last guard)."""
    check_reply_to(family, command.marketplace, command.body, command.recipients, rules=rules)


def order_document_due(command: ReplyCommand, family: str) -> bool:
    """Whether the reply's invoice is to be filed on its order too: the family has the
    capability, and the command names its invoice with the order it belongs to."""
    rules = rules_of(family)
    return (
        rules is not None
        and rules.order_documents
        and command.invoice is not None
        and bool(command.invoice.order_id)
    )


def order_document_type(family: str, kind: InvoiceKind) -> str | None:
    """The family's type code for this kind of document; None when it has none."""
    rules = rules_of(family)
    return dict(rules.order_document_types).get(kind) if rules is not None else None
