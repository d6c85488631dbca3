"""Marketplace rules a reply must meet before it may leave Parley.

The gateway refuses bad replies early for a clear API error; the responder checks
again because it is the last line before the marketplace, and commands can come
from other producers than the gateway.

Rules are per family; a Mirakl operator instance listed in the operator catalogue
may be stricter than its family (its own body limit), and then its limit applies.

A family may also have a document channel besides its messages (``order_documents``:
Mirakl OR74 files a document on the order): a reply that carries an invoice for an
order is then filed there as well, once (:func:`order_document_due`), with the
family's type code for the kind of document (:func:`order_document_type`).
"""

from __future__ import annotations

from dataclasses import dataclass

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


FAMILY_RULES: dict[str, MarketplaceRules] = {
    # Email relays (Amazon, CDON) forward mail to the buyer's anonymised alias only; no
    # body limit is published for relayed mail, so the command's own limit applies.
    "email_relay": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=10_000,
    ),
    # Mirakl M12 addresses the customer and/or the operator of the thread. OR74 files
    # documents on the order: CUSTOMER_INVOICE is the documented type code of an
    # invoice; no code for a credit note is documented, so credit notes are not filed.
    "mirakl": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}),
        max_body_length=10_000,
        order_documents=True,
        order_document_types=((InvoiceKind.INVOICE, CUSTOMER_INVOICE),),
    ),
    # Allegro: Message Center messages and issue messages reach the buyer only;
    # NewMessageInThread.text is at most 2000 characters.
    "allegro": MarketplaceRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=2000,
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


class RuleViolation(ValueError):
    """The reply breaks a marketplace rule; it is failed and never sent."""


def body_limit(
    command: ReplyCommand, family: str, rules: MarketplaceRules, operators: OperatorCatalogue
) -> tuple[int, str]:
    """The longest body allowed, and who sets it: the family, or a stricter Mirakl
    operator instance (``command.marketplace`` is the instance id)."""
    if family == "mirakl":
        operator = operators.find(command.marketplace)
        if operator is not None and operator.capabilities.max_body_length < rules.max_body_length:
            return operator.capabilities.max_body_length, operator.display_name
    return rules.max_body_length, family


def check_reply(
    command: ReplyCommand, family: str, *, operators: OperatorCatalogue = CATALOGUE
) -> None:
    rules = FAMILY_RULES.get(family)
    if rules is None:
        raise RuleViolation(f"replies to the {family} family are not supported yet")
    if contains_html(command.body):
        raise RuleViolation(PLAIN_TEXT_ONLY)
    limit, set_by = body_limit(command, family, rules, operators)
    if len(command.body) > limit:
        raise RuleViolation(f"reply is {len(command.body)} characters; {set_by} accepts {limit}")
    refused = set(command.recipients) - rules.allowed_recipients
    if refused:
        names = ", ".join(sorted(r.value for r in refused))
        raise RuleViolation(f"{family} does not accept replies addressed to: {names}")


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
