"""The Rakuten France family (its XML web services).

Rules: ``contactuseraboutitem`` writes to the item's buyer only; the content travels
in the query string and no limit is published, so 2000 is an assumed bound. The reply
call carries text only, so files go as download links. No published reply deadline:
48 h assumed.
"""

from __future__ import annotations

from parley_connectors.family import Family, ReplyRules, text_only
from parley_connectors.rakuten.reading import RakutenConnector
from parley_connectors.rakuten.writing import RakutenReplies
from parley_connectors.reading import ConnectionInfo, ReaderDeps
from parley_connectors.writing import WriterDeps
from parley_schemas import ParticipantRole


def _reader(connection: ConnectionInfo, deps: ReaderDeps) -> RakutenConnector:
    return RakutenConnector(connection)


def _writer(deps: WriterDeps) -> RakutenReplies:
    return RakutenReplies()


FAMILY = Family(
    name="rakuten",
    marketplaces=("rakuten",),
    reader=_reader,
    writer=_writer,
    rules=ReplyRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=2000,
    ),
    attachments=text_only("Rakuten"),
    languages={"rakuten": "fr"},
    display_names={"rakuten": "Rakuten"},
    credential_fields=("login", "token"),
)
