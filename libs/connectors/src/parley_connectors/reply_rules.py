"""Marketplace rules a reply must meet before it may leave Parley, per family.

One table read by both sides of a reply: the gateway refuses a reply that breaks a
rule before anything is queued (422 naming the rule, so the merchant can fix it at
once), and the responder checks again as the last line before the marketplace,
because commands can come from other producers than the gateway and a Mirakl
instance's limits can change between the two.

A Mirakl operator instance listed in the operator catalogue may be stricter than its
family (its own body limit); then its limit applies.

Each family also has a reply deadline policy (:func:`reply_window`): how long the shop
has to answer a message that expects a reply, counted from the marketplace's own
"reply needed since" where it gives one (Mirakl's ``shop_reply_needed_since``), else
from the buyer's or operator's last message not answered yet. Where a marketplace
publishes its rule (Amazon: answer buyer messages within 24 hours) it is used; the
others are Parley's assumptions, marked so, until the marketplace publishes one.

A family may also have a document channel besides its messages (``order_documents``:
Mirakl OR74 files a document on the order): a reply that carries an invoice for an
order is then filed there as well, once (:func:`order_document_due`), with the
family's type code for the kind of document (:func:`order_document_type`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from parley_connectors.mirakl import CUSTOMER_INVOICE
from parley_connectors.mirakl.catalogue import CATALOGUE, OperatorCatalogue
from parley_schemas import InvoiceKind, ParticipantRole, ReplyCommand
from parley_schemas.text import PLAIN_TEXT_ONLY, contains_html


@dataclass(frozen=True)
class MarketplaceRules:
    allowed_recipients: frozenset[ParticipantRole]
    max_body_length: int
    # The family files documents on orders (an invoice, besides the message), with
    # these type codes; a kind without a code is not filed.
    order_documents: bool = False
    order_document_types: tuple[tuple[InvoiceKind, str], ...] = ()
    # How long the shop has to answer a message that expects a reply, and whether
    # that is the marketplace's published rule (False: Parley's assumption).
    reply_window: timedelta = timedelta(hours=48)
    reply_window_published: bool = False


FAMILY_RULES: dict[str, MarketplaceRules] = {
    # Email relays (Amazon, CDON) forward mail to the buyer's anonymised alias only; no
    # body limit is published for relayed mail, so the command's own limit applies.
    # Reply window: Amazon's, for the relay's Amazon marketplaces (reply_window);
    # CDON publishes none: 48 h assumed.
    "email_relay": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=10_000,
    ),
    # Mirakl M12 addresses the customer and/or the operator of the thread. OR74 files
    # documents on the order: CUSTOMER_INVOICE is the documented type code of an
    # invoice; no code for a credit note is documented, so credit notes are not filed.
    # M11 says since when the shop's reply is needed (shop_reply_needed_since); the
    # delay is each operator's own: 48 h assumed.
    "mirakl": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}),
        max_body_length=10_000,
        order_documents=True,
        order_document_types=((InvoiceKind.INVOICE, CUSTOMER_INVOICE),),
    ),
    # Allegro: Message Center messages and issue messages reach the buyer only;
    # NewMessageInThread.text is at most 2000 characters. Allegro measures the seller's
    # response time; answering within 24 h is assumed as the window.
    "allegro": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=2000,
        reply_window=timedelta(hours=24),
    ),
    # Fnac messages_update: message_to CLIENT, CALLCENTER (orders in incident) or ALL.
    # MessagesUpdateService.xsd gives message_description no maxLength; 4000 is an
    # assumed safe bound until Fnac publishes one.
    "fnac": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}),
        max_body_length=4000,
    ),
    # Rakuten contactuseraboutitem writes to the item's buyer only; the content travels
    # in the query string and no limit is published, so 2000 is an assumed bound.
    "rakuten": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=2000,
    ),
}

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


# Amazon's Buyer-Seller Messaging rule: respond to buyer messages within 24 hours.
AMAZON_REPLY_WINDOW = timedelta(hours=24)


def reply_window(family: str, marketplace: str) -> timedelta:
    """How long the shop has to answer a message that expects a reply (see the module
    docstring); a family Parley does not know gets the default 48 h."""
    if family == "email_relay" and marketplace.lower().startswith("amazon"):
        return AMAZON_REPLY_WINDOW
    rules = FAMILY_RULES.get(family)
    return rules.reply_window if rules is not None else MarketplaceRules.reply_window


def body_limit(
    family: str, marketplace: str, rules: MarketplaceRules, operators: OperatorCatalogue = CATALOGUE
) -> tuple[int, str]:
    """The longest body allowed, and who sets it: the family, or a stricter Mirakl
    operator instance (``marketplace`` is the instance id)."""
    if family == "mirakl":
        operator = operators.find(marketplace)
        if operator is not None and operator.capabilities.max_body_length < rules.max_body_length:
            return operator.capabilities.max_body_length, operator.display_name
    return rules.max_body_length, family


def check_reply_to(
    family: str,
    marketplace: str,
    body: str,
    recipients: Iterable[ParticipantRole],
    *,
    operators: OperatorCatalogue = CATALOGUE,
) -> None:
    """Raises :class:`RuleViolation` naming the first rule the reply breaks."""
    rules = FAMILY_RULES.get(family)
    if rules is None:
        raise RuleViolation(
            f"replies to the {family} family are not supported yet",
            field="discussion_id",
            rule=FAMILY_NOT_SUPPORTED,
        )
    if contains_html(body):
        raise RuleViolation(PLAIN_TEXT_ONLY, rule=PLAIN_TEXT)
    limit, set_by = body_limit(family, marketplace, rules, operators)
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


def check_reply(
    command: ReplyCommand, family: str, *, operators: OperatorCatalogue = CATALOGUE
) -> None:
    """:func:`check_reply_to` on a queued command (the responder's last guard)."""
    check_reply_to(
        family, command.marketplace, command.body, command.recipients, operators=operators
    )


def order_document_due(command: ReplyCommand, family: str) -> bool:
    """Whether the reply's invoice is to be filed on its order too: the family has the
    capability, and the command names its invoice with the order it belongs to."""
    rules = FAMILY_RULES.get(family)
    return (
        rules is not None
        and rules.order_documents
        and command.invoice is not None
        and bool(command.invoice.order_id)
    )


def order_document_type(family: str, kind: InvoiceKind) -> str | None:
    """The family's type code for this kind of document; None when it has none."""
    rules = FAMILY_RULES.get(family)
    return dict(rules.order_document_types).get(kind) if rules is not None else None
