"""The Allegro family: Message Center threads and post-purchase issues ("discussions").

Rules: both channels reach the buyer only; ``NewMessageInThread.text`` is at most 2000
characters. Reply deadline: Allegro measures the seller's response time; answering
within 24 h is assumed as the window. Attachments: Message Center takes the client's
documented types and size; issue chats take files from their own upload endpoint,
which the client does not offer yet, so there files go as links. Tokens rotate: the
reader saves them through ingest's repository, the writer reads them and asks ingest
to refresh (see :mod:`.writing`).
"""

from __future__ import annotations

from datetime import timedelta

from parley_connectors.allegro import (
    ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    Channel,
    parse_thread_key,
)
from parley_connectors.allegro.reading import AllegroConnector
from parley_connectors.allegro.writing import AllegroReplies
from parley_connectors.family import AttachmentPolicy, Family, ReplyRules, fixed_window
from parley_connectors.reading import ConnectionInfo, ReaderDeps
from parley_connectors.writing import WriterDeps
from parley_schemas import ParticipantRole


def attachment_policy(marketplace: str, thread_id: str) -> AttachmentPolicy:
    channel, _ = parse_thread_key(thread_id)
    if channel is Channel.DISCUSSIONS:
        return AttachmentPolicy(
            native=False,
            set_by="Allegro",
            why_not_native="Parley does not upload files to Allegro disputes and claims",
        )
    return AttachmentPolicy(
        native=True,
        set_by="Allegro",
        max_file_bytes=MAX_ATTACHMENT_BYTES,
        allowed_types=ATTACHMENT_TYPES,
    )


def _reader(connection: ConnectionInfo, deps: ReaderDeps) -> AllegroConnector:
    return AllegroConnector(connection, credentials=deps.credentials)


def _writer(deps: WriterDeps) -> AllegroReplies:
    # Ingest owns the credentials: the responder reads them and asks it to refresh.
    return AllegroReplies(deps.credentials, refreshes=deps.refreshes)


FAMILY = Family(
    name="allegro",
    marketplaces=("allegro",),
    reader=_reader,
    writer=_writer,
    rules=ReplyRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=2000,
    ),
    attachments=attachment_policy,
    reply_window=fixed_window(timedelta(hours=24)),
    languages={"allegro": "pl"},
    display_names={"allegro": "Allegro"},
    credential_fields=("client_id", "client_secret", "refresh_token"),
)
