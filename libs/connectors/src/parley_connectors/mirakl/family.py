"""The Mirakl family: one connector, many operator instances (the operator catalogue).

Rules: M12 addresses the customer and/or the operator of the thread; an operator
instance in the catalogue may be stricter than the family (its own body limit). OR74
files documents on the order: CUSTOMER_INVOICE is the documented type code of an
invoice; no code for a credit note is documented, so credit notes are not filed.
Reply deadline: M11 says since when the shop's reply is needed
(``shop_reply_needed_since``); the delay is each operator's own: 48 h assumed.
Attachments: the operator's capabilities from the catalogue (EmpikPlace's 10 MB per
conversation among them), else Mirakl's defaults.
"""

from __future__ import annotations

from parley_connectors.family import (
    AttachmentPolicy,
    Family,
    InstanceUrl,
    NoDefaultBaseUrl,
    ReplyRules,
)
from parley_connectors.mirakl import CUSTOMER_INVOICE
from parley_connectors.mirakl.catalogue import (
    CATALOGUE,
    MIRAKL_DEFAULTS,
    OperatorCatalogue,
    UnknownOperatorInstance,
)
from parley_connectors.mirakl.catalogue import instance as mirakl_instance
from parley_connectors.mirakl.reading import MiraklConnector
from parley_connectors.mirakl.writing import MiraklReplies
from parley_connectors.reading import ConnectionInfo, ReaderDeps
from parley_connectors.writing import WriterDeps
from parley_schemas import InvoiceKind, ParticipantRole

MAX_BODY_LENGTH = 10_000


def operator_body_limit(
    marketplace: str, operators: OperatorCatalogue = CATALOGUE
) -> tuple[int, str] | None:
    """The instance's own body limit when it is stricter than the family's."""
    operator = operators.find(marketplace)
    if operator is not None and operator.capabilities.max_body_length < MAX_BODY_LENGTH:
        return operator.capabilities.max_body_length, operator.display_name
    return None


def attachment_policy(
    marketplace: str, thread_id: str, operators: OperatorCatalogue = CATALOGUE
) -> AttachmentPolicy:
    operator = operators.find(marketplace)
    caps = operator.capabilities if operator is not None else MIRAKL_DEFAULTS
    return AttachmentPolicy(
        native=caps.attachments_accepted,
        set_by=operator.display_name if operator is not None else f"Mirakl ({marketplace})",
        max_message_bytes=caps.max_attachment_bytes_per_message,
        max_conversation_bytes=caps.max_attachment_bytes_per_conversation,
        allowed_types=caps.allowed_attachment_types,
        max_files=caps.max_attachments_per_entity,
    )


def instance_url(marketplace: str) -> InstanceUrl:
    """The operator instance's API root from the catalogue; NoDefaultBaseUrl when the
    catalogue has none (unknown instance, URL not public, messages not on Mirakl)."""
    try:
        operator = mirakl_instance(marketplace)
    except UnknownOperatorInstance as exc:
        raise NoDefaultBaseUrl(
            f"{exc}; pass --base-url for an operator outside the catalogue"
        ) from None
    if not operator.messages_through_mirakl:
        raise NoDefaultBaseUrl(
            f"{operator.display_name} messages do not go through Mirakl: "
            f"use --family {operator.messaging_family}"
        )
    if operator.base_url is None:
        raise NoDefaultBaseUrl(
            f"no known API URL for {operator.display_name}: pass --base-url from the"
            " operator's onboarding pack"
        )
    note = None
    if operator.base_url_needs_confirmation:
        note = (
            f"{operator.display_name}: using {operator.base_url} ({operator.base_url_status}"
            " in public integrations); check it against the operator's onboarding pack"
        )
    return InstanceUrl(operator.base_url, note)


def _reader(connection: ConnectionInfo, deps: ReaderDeps) -> MiraklConnector:
    return MiraklConnector(connection)


def _writer(deps: WriterDeps) -> MiraklReplies:
    return MiraklReplies()


_INSTANCES = tuple(i for i in CATALOGUE if i.messaging_family == "mirakl")

FAMILY = Family(
    name="mirakl",
    marketplaces=tuple(i.id for i in _INSTANCES),
    reader=_reader,
    writer=_writer,
    rules=ReplyRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}),
        max_body_length=MAX_BODY_LENGTH,
        instance_body_limit=operator_body_limit,
        order_documents=True,
        order_document_types=((InvoiceKind.INVOICE, CUSTOMER_INVOICE),),
    ),
    attachments=attachment_policy,
    # The buyers' language is the catalogue's; the names are what buyers call them.
    languages={i.id: i.language for i in _INSTANCES},
    display_names={
        "carrefour": "Carrefour",
        "decathlon": "Decathlon",
        "leroymerlin": "Leroy Merlin",
        "empik": "Empik",
        "conforama": "Conforama",
        "boulanger": "Boulanger",
        "maisonsdumonde": "Maisons du Monde",
        "worten": "Worten",
        "mediamarkt": "MediaMarkt",
    },
    credential_fields=("api_key",),
    base_url=instance_url,
)
