"""The email-relay family (Amazon buyer-seller messaging, CDON).

Rules: the relays forward mail to the buyer's anonymised alias only; no body limit is
published for relayed mail, so 10 000 characters. Reply deadline: Amazon's published
Buyer-Seller Messaging rule (respond within 24 hours) for Amazon marketplaces; CDON
publishes none: 48 h assumed. Attachments travel as MIME parts within each relay's
profile (10 MB per message at Amazon, the assumed file types). Inbound mail is pushed
to ingest's SMTP server, so the reader polls nothing; the writer needs the discussion
it answers (threading headers) and an SMTP sender, which the responder lends.
"""

from __future__ import annotations

from datetime import timedelta

from parley_connectors.email_relay import AMAZON, CDON
from parley_connectors.email_relay.reading import EmailRelayConnector
from parley_connectors.email_relay.writing import EmailRelayReplies
from parley_connectors.family import DEFAULT_REPLY_WINDOW, AttachmentPolicy, Family, ReplyRules
from parley_connectors.reading import ConnectionInfo, ReaderDeps
from parley_connectors.writing import WriterDeps
from parley_schemas import ParticipantRole

# Amazon's Buyer-Seller Messaging rule: respond to buyer messages within 24 hours.
AMAZON_REPLY_WINDOW = timedelta(hours=24)


def reply_window(marketplace: str) -> timedelta:
    if marketplace.lower().startswith("amazon"):
        return AMAZON_REPLY_WINDOW
    return DEFAULT_REPLY_WINDOW


def attachment_policy(marketplace: str, thread_id: str) -> AttachmentPolicy:
    profile = CDON if marketplace.lower().startswith("cdon") else AMAZON
    return AttachmentPolicy(
        native=True,
        set_by=profile.marketplace.value.capitalize(),
        max_message_bytes=profile.max_message_attachment_bytes,
        allowed_extensions=profile.attachment_extensions,
    )


def _reader(connection: ConnectionInfo, deps: ReaderDeps) -> EmailRelayConnector:
    return EmailRelayConnector(connection)


def _writer(deps: WriterDeps) -> EmailRelayReplies:
    if deps.threads is None or deps.mailer is None:
        raise ValueError("the email_relay writer needs a thread reader and a mail sender")
    return EmailRelayReplies(deps.threads, deps.mailer)


FAMILY = Family(
    name="email_relay",
    marketplaces=("amazon", "cdon"),
    reader=_reader,
    writer=_writer,
    rules=ReplyRules(
        allowed_recipients=frozenset({ParticipantRole.CUSTOMER}),
        max_body_length=10_000,
    ),
    attachments=attachment_policy,
    reply_window=reply_window,
    # amazon-de, cdon-se…: the country in the id decides (parley_store.autoresponders).
    languages={"amazon": "en", "cdon": "en"},
    display_names={"amazon": "Amazon", "cdon": "CDON"},
    # Inbound mail is pushed; replies use the platform's SMTP relay.
    credential_fields=(),
)
