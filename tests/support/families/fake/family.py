"""The fake family's descriptor: buyer-only replies of at most 50 characters, text only."""

from __future__ import annotations

from datetime import timedelta

from parley_connectors.family import Family, ReplyRules, fixed_window, text_only
from parley_connectors.reading import ConnectionInfo, ReaderDeps
from parley_connectors.writing import WriterDeps
from parley_schemas import ParticipantRole

from .reading import FakeReader
from .writing import FakeWriter

MAX_BODY_LENGTH = 50


def _reader(connection: ConnectionInfo, deps: ReaderDeps) -> FakeReader:
    return FakeReader(connection)


def _writer(deps: WriterDeps) -> FakeWriter:
    return FakeWriter()


FAMILY = Family(
    name="fake",
    marketplaces=("fakemart",),
    reader=_reader,
    writer=_writer,
    rules=ReplyRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=MAX_BODY_LENGTH,
    ),
    attachments=text_only("Fakemart"),
    reply_window=fixed_window(timedelta(hours=6)),
    credential_fields=("shop",),
)
