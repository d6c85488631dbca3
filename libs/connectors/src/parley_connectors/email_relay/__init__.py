"""The email-relay family (Amazon buyer-seller messaging, CDON): marketplaces that relay
buyer messages by email.

Inbound mail reaches a per-store Parley address (:mod:`.addresses`) and is read by
:func:`parse_inbound`; replies are built by :func:`build_reply` and submitted through
an SMTP relay by :class:`SmtpSender`. The facts relied on about each marketplace, and
the assumptions where their documentation is silent, are in :mod:`.marketplaces`.
"""

from parley_connectors.email_relay.addresses import new_inbound_address, normalize_address
from parley_connectors.email_relay.html_text import html_to_text
from parley_connectors.email_relay.marketplaces import (
    AMAZON,
    CDON,
    RelayMarketplace,
    RelayProfile,
    Unframed,
    relay_for,
    unframe,
)
from parley_connectors.email_relay.outbound import (
    OutgoingAttachment,
    build_reply,
    reply_message_id,
    reply_subject,
)
from parley_connectors.email_relay.parsing import (
    InboundAttachment,
    InboundEmail,
    RelayPayloadError,
    parse_inbound,
)
from parley_connectors.email_relay.smtp import SmtpRelaySettings, SmtpSender
from parley_connectors.email_relay.threads import (
    message_ids,
    reply_references,
    root_of,
    thread_id_for,
)

__all__ = [
    "AMAZON",
    "CDON",
    "InboundAttachment",
    "InboundEmail",
    "OutgoingAttachment",
    "RelayMarketplace",
    "RelayPayloadError",
    "RelayProfile",
    "SmtpRelaySettings",
    "SmtpSender",
    "Unframed",
    "build_reply",
    "html_to_text",
    "message_ids",
    "new_inbound_address",
    "normalize_address",
    "parse_inbound",
    "relay_for",
    "reply_message_id",
    "reply_references",
    "reply_subject",
    "root_of",
    "thread_id_for",
    "unframe",
]
