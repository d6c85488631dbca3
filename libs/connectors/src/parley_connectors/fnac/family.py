"""The Fnac family (its XML marketplace API).

Rules: ``messages_update`` writes to CLIENT, CALLCENTER (orders in incident) or ALL.
MessagesUpdateService.xsd gives ``message_description`` no maxLength; 4000 is an
assumed safe bound until Fnac publishes one. The reply call carries text only, so
files go as download links. No published reply deadline: 48 h assumed.
"""

from __future__ import annotations

from parley_connectors.family import Family, ReplyRules, text_only
from parley_connectors.fnac.reading import FnacConnector
from parley_connectors.fnac.writing import FnacReplies
from parley_connectors.reading import ConnectionInfo, ReaderDeps
from parley_connectors.writing import WriterDeps
from parley_schemas import ParticipantRole


def _reader(connection: ConnectionInfo, deps: ReaderDeps) -> FnacConnector:
    return FnacConnector(connection)


def _writer(deps: WriterDeps) -> FnacReplies:
    return FnacReplies()


FAMILY = Family(
    name="fnac",
    marketplaces=("fnac", "darty"),  # Darty's marketplace runs on Fnac's API
    reader=_reader,
    writer=_writer,
    rules=ReplyRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR}),
        max_body_length=4000,
    ),
    attachments=text_only("Fnac"),
    languages={"fnac": "fr", "darty": "fr"},
    display_names={"fnac": "Fnac", "darty": "Darty"},
    credential_fields=("partner_id", "shop_id", "key"),
)
