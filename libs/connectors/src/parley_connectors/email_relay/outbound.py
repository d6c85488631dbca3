"""Building a reply mail to a buyer's anonymised relay address.

The reply is plain text (UTF-8; the relays show text, and Parley refuses HTML replies
anyway), addressed to the alias the buyer wrote from, and threaded with
``In-Reply-To`` (the message answered) and ``References`` (the conversation, root
first, RFC 5322 §3.6.4), so the relay files it on the buyer's original thread: Amazon
only lets replies through to a buyer who opted out of seller messages when they stay
on the thread the buyer started. The subject keeps the original one behind ``Re:``,
which keeps the order id in it.

``Message-ID`` is chosen by the caller or derived from what the reply *is* (see
:func:`reply_message_id`), so a reply sent again after a crash carries the same id and
a receiver that drops duplicate ids drops it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from parley_connectors.email_relay.threads import bracketed

_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|vs|antw|ant|wg|r)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class OutgoingAttachment:
    name: str
    content: bytes = field(repr=False)
    content_type: str | None = None


def reply_message_id(domain: str, *parts: str) -> str:
    """A message id that is the same for the same reply (no angle brackets)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"parley.{digest}@{domain}"


def reply_subject(subject: str | None, fallback: str = "Your message") -> str:
    text = " ".join((subject or "").split()) or fallback
    return text if _REPLY_PREFIX.match(text) else f"Re: {text}"


def build_reply(
    *,
    sender: str,
    to: str,
    body: str,
    subject: str | None,
    in_reply_to: str | None,
    references: Sequence[str],
    message_id: str,
    sender_name: str | None = None,
    to_name: str | None = None,
    attachments: Sequence[OutgoingAttachment] = (),
    date: datetime | None = None,
) -> EmailMessage:
    """The reply as an :class:`EmailMessage`, ready for :class:`~.smtp.SmtpSender`."""
    if not body.strip():
        raise ValueError("a reply needs a body")
    message = EmailMessage(policy=policy.default)
    message["From"] = _address(sender, sender_name)
    message["To"] = _address(to, to_name)
    message["Subject"] = reply_subject(subject)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
    chain = [*references] or ([in_reply_to] if in_reply_to else [])
    if chain:
        message["References"] = bracketed(chain)
    # Quoted-printable travels through relays without 8BITMIME and stays readable.
    message.set_content(
        body.replace("\r\n", "\n"), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    for attachment in attachments:
        content_type = (
            attachment.content_type
            or mimetypes.guess_type(attachment.name)[0]
            or "application/octet-stream"
        )
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.name,
        )
    return message


def _address(addr_spec: str, name: str | None) -> Address:
    if "@" not in addr_spec:
        raise ValueError(f"not an email address: {addr_spec!r}")
    return Address(display_name=" ".join((name or "").split()), addr_spec=addr_spec)
