"""Reading one inbound relay email (RFC 5322 / MIME) into what Parley needs.

Parsing uses the standard library's ``email`` package with ``policy.default``, which
decodes encoded-word headers (RFC 2047), RFC 2231 file names, quoted-printable and
base64 bodies. What the mail says is taken as follows:

- text: the text/plain body part; when a mail has only HTML, its visible text
  (:mod:`.html_text`); a declared charset Python does not know is read as UTF-8 with
  replacement characters rather than losing the message. The relay's own framing
  (Amazon's delimiter lines, order header and retention notice, CDON's preamble) is
  then removed, so the text is the buyer's own words (:func:`.marketplaces.unframe`);
  what was removed stays in the snapshot payload (``framing``), and the facts it gave
  (order id, Amazon's ASIN and item) are kept;
- attachments: every other leaf part that carries a file (``Content-Disposition:
  attachment``, a file name, or a non-text type such as an inline image), with its
  name, content type and bytes; an attached email (message/rfc822) is kept whole as
  an ``.eml`` file; a part without a name gets ``attachment-<n>`` plus an extension
  guessed from its type;
- ``Message-ID``, ``In-Reply-To``, ``References`` (without angle brackets); a mail
  without ``Message-ID`` gets a stable one derived from its bytes, so the relay
  re-delivering it maps to the same message;
- the buyer: the first ``From`` (else ``Reply-To``) address in a relay domain, and its
  display name without the relay's label; that domain also says which marketplace
  relayed the mail (:mod:`.marketplaces`);
- the order id: from the subject, else from the relay's framing, else from the text.

A mail that cannot be read as a buyer message (no relay sender, neither text nor
attachment, or bytes the parser chokes on) raises :class:`RelayPayloadError`; the
caller dead-letters it with the reason.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from parley_connectors.email_relay.html_text import html_to_text
from parley_connectors.email_relay.marketplaces import RelayProfile, Unframed, relay_for
from parley_connectors.email_relay.threads import message_ids, thread_id_for
from parley_connectors.errors import PayloadError
from parley_schemas import as_utc

MAX_TEXT_CHARS = 100_000  # keeps a snapshot far below Kafka's default 1 MB record limit
_TRUNCATED = "\n[… message truncated by Parley]"
FRAMING_MAX_CHARS = 20_000  # per side, in the snapshot payload
_NAME_MAX = 200
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|ant|wg|fw|fwd|tr|rif|r)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


class RelayPayloadError(PayloadError):
    """An inbound email that cannot be read as a relayed buyer message."""


@dataclass(frozen=True)
class InboundAttachment:
    name: str
    content_type: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class InboundEmail:
    """One relayed buyer message, read."""

    relay: RelayProfile
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str | None
    buyer_address: str
    buyer_name: str | None
    recipients: tuple[str, ...]
    sent_at: datetime | None
    text: str
    attachments: tuple[InboundAttachment, ...]
    order_id: str | None
    framing: Unframed

    @property
    def thread_id(self) -> str:
        return thread_id_for(
            order_id=self.order_id,
            buyer_address=self.buyer_address,
            message_id=self.message_id,
            in_reply_to=self.in_reply_to,
            references=self.references,
        )

    @property
    def topic(self) -> str | None:
        """The subject without reply prefixes (``Re:``, ``AW:``, ``SV:`` …)."""
        if not self.subject:
            return None
        return _REPLY_PREFIX.sub("", self.subject).strip() or None

    def summary(self) -> dict[str, Any]:
        """The mail's identity as JSON (snapshot payload): headers, no bytes."""
        return {
            "marketplace": self.relay.marketplace.value,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "subject": self.subject,
            "from": {"address": self.buyer_address, "name": self.buyer_name},
            "to": list(self.recipients),
            "date": self.sent_at.isoformat() if self.sent_at else None,
            "order_id": self.order_id,
            "attachments": [
                {"name": a.name, "content_type": a.content_type, "size": a.size}
                for a in self.attachments
            ],
            **({"framing": self._framing_summary()} if self.framing.framed else {}),
        }

    def _framing_summary(self) -> dict[str, Any]:
        """What the relay wrapped around the buyer's text, kept as it was."""
        return {
            "before": self.framing.before[:FRAMING_MAX_CHARS],
            "after": self.framing.after[:FRAMING_MAX_CHARS],
            "order_id": self.framing.order_id,
            "product_id": self.framing.product_id,
            "product_title": self.framing.product_title,
        }


def parse_inbound(raw: bytes) -> InboundEmail:
    """Reads a relayed mail or raises :class:`RelayPayloadError` saying why not."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        return _read(message, raw)
    except RelayPayloadError:
        raise
    except Exception as exc:  # untrusted input: any parser failure means a bad mail
        raise RelayPayloadError(f"unreadable email: {type(exc).__name__}: {exc}") from exc


def _read(message: EmailMessage, raw: bytes) -> InboundEmail:
    own_ids = message_ids(_header(message, "Message-ID"))
    message_id = own_ids[0] if own_ids else f"{hashlib.sha256(raw).hexdigest()[:32]}@parley.invalid"
    relay, address = _relay_sender(message)
    if relay is None or address is None:
        sender = _header(message, "From") or "nobody"
        raise RelayPayloadError(
            f"sender {sender!r} is not a marketplace relay address", thread_id=None
        )
    body_part = message.get_body(preferencelist=("plain", "html"))
    text = _text_of(body_part) if body_part is not None else ""
    attachments = tuple(_attachments(message, body_part))
    if not text.strip() and not attachments:
        raise RelayPayloadError("the email has neither text nor attachments")
    framing = relay.unframe(text)
    text = framing.text
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + _TRUNCATED
    subject = _header(message, "Subject")
    in_reply_to = message_ids(_header(message, "In-Reply-To"))
    return InboundEmail(
        relay=relay,
        message_id=message_id,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=tuple(message_ids(_header(message, "References"))),
        subject=subject,
        buyer_address=address.addr_spec.lower(),
        buyer_name=relay.buyer_name(address.display_name),
        recipients=tuple(
            a.addr_spec.lower() for name in ("To", "Cc") for a in _addresses(message, name)
        ),
        sent_at=_date(message),
        text=text,
        attachments=attachments,
        order_id=relay.order_id(subject) or framing.order_id or relay.order_id(text),
        framing=framing,
    )


# --- headers ----------------------------------------------------------------------------


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _addresses(message: Message, name: str) -> list[Address]:
    header = message.get(name)
    addresses = getattr(header, "addresses", None) or ()
    return [a for a in addresses if isinstance(a, Address) and "@" in a.addr_spec]


def _relay_sender(message: Message) -> tuple[RelayProfile | None, Address | None]:
    for name in ("From", "Reply-To", "Sender"):
        for address in _addresses(message, name):
            relay = relay_for(address.addr_spec)
            if relay is not None:
                return relay, address
    return None, None


def _date(message: Message) -> datetime | None:
    header = message.get("Date")
    when = getattr(header, "datetime", None)
    if not isinstance(when, datetime):
        return None
    return as_utc(when)


# --- body ---------------------------------------------------------------------------------


def _text_of(part: Message) -> str:
    content = _decoded_text(part)
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def _decoded_text(part: Message) -> str:
    """The part's text; an unknown or lying charset costs characters, not the message."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


# --- attachments --------------------------------------------------------------------------


def _leaves(part: Message) -> list[Message]:
    """Leaf parts in order; an attached email counts as one leaf, not its insides."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        return [part]
    payload = part.get_payload()
    children = payload if isinstance(payload, list) else []
    return [leaf for child in children if isinstance(child, Message) for leaf in _leaves(child)]


def _attachments(message: Message, body_part: Message | None) -> list[InboundAttachment]:
    found: list[InboundAttachment] = []
    for part in _leaves(message):
        if part is body_part:
            continue
        name = part.get_filename()
        disposition = part.get_content_disposition()
        content_type = part.get_content_type()
        if (
            disposition != "attachment"
            and not name
            and part.get_content_maintype() in ("text", "multipart")
        ):
            continue  # the other alternative of the body, or an empty container
        content = _content(part)
        if content is None:
            continue
        found.append(
            InboundAttachment(
                name=_safe_name(name, part, len(found) + 1),
                content_type=content_type,
                content=content,
            )
        )
    return found


def _content(part: Message) -> bytes | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes(policy=policy.default)
        return None
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def _safe_name(name: str | None, part: Message, index: int) -> str:
    """A file name safe to store and show: no path, no control characters."""
    if name:
        name = _UNSAFE_NAME.sub("", name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", ".."):
        if part.get_content_type() == "message/rfc822":
            extension = ".eml"
        else:
            extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
        name = f"attachment-{index}{extension}"
    if len(name) > _NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        keep = _NAME_MAX - len(extension) - 1
        name = f"{stem[:keep]}.{extension}" if dot and len(extension) < 10 else name[:_NAME_MAX]
    return name
