"""Sending mail through the configured SMTP relay (aiosmtplib), with family-neutral errors.

Replies leave Parley through one SMTP submission server (the platform's relay, or the
sandbox's sink locally), not through the marketplace: the marketplace's relay receives
them like any mail. SMTP answers map onto :mod:`parley_connectors.errors` so the
responder's policy applies unchanged:

- cannot connect, timeouts, a dropped connection, any 4xx → :class:`MarketplaceUnavailable`
  (try again later);
- 530/534/535 and other authentication refusals → :class:`AuthenticationFailed`;
- any other 5xx (recipient or sender refused, message too big …) → :class:`BadRequest`
  with the server's text.

SMTP has no read-back: once the server said 250 the message is queued and nothing can
tell later whether it was. A connection lost *during* the DATA phase cannot be told
apart from one lost before it, so such a failure is reported as retryable and as
``maybe_delivered`` (the responder then leaves the outcome to the merchant); an SMTP
reply code or a connection never opened is not. The reply's ``Message-ID``, chosen
from the command (see :mod:`.outbound`), is what keeps a resend recognisable.
The password is only handed to aiosmtplib; it never appears in errors or ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

from parley_connectors.email_relay.threads import message_ids
from parley_connectors.errors import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceError,
    MarketplaceUnavailable,
)

_AUTH_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class SmtpRelaySettings:
    """Where and how to submit mail. ``starttls`` upgrades a plain connection (port 587);
    ``implicit_tls`` connects over TLS from the start (port 465)."""

    host: str
    port: int = 587
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    validate_certs: bool = True


class SmtpSender:
    def __init__(self, settings: SmtpRelaySettings) -> None:
        self._settings = settings

    def __repr__(self) -> str:
        s = self._settings
        return f"SmtpSender(host={s.host!r}, port={s.port}, starttls={s.starttls})"

    async def send(self, message: EmailMessage) -> str:
        """Submits ``message``; returns its Message-ID (without brackets) once accepted."""
        ids = message_ids(message.get("Message-ID"))
        if not ids:
            raise ValueError("a message to send needs a Message-ID")
        sender = message["From"].addresses[0].addr_spec if message["From"] else None
        recipients = [
            a.addr_spec
            for name in ("To", "Cc", "Bcc")
            if message[name] is not None
            for a in message[name].addresses
        ]
        if not sender or not recipients:
            raise ValueError("a message to send needs From and at least one recipient")
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=recipients,
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=s.password if s.username else None,
                use_tls=s.implicit_tls,
                start_tls=s.starttls if not s.implicit_tls else False,
                timeout=s.timeout,
                validate_certs=s.validate_certs,
            )
        except aiosmtplib.SMTPException as exc:
            raise _mapped(exc) from exc
        except OSError as exc:
            raise MarketplaceUnavailable(
                f"SMTP relay {s.host}:{s.port} unreachable ({type(exc).__name__})"
            ) from exc
        return ids[0]


def _mapped(exc: aiosmtplib.SMTPException) -> MarketplaceError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(400 <= c < 500 for c in codes):
            return MarketplaceUnavailable(
                f"recipients deferred: {text}", status=min(codes), maybe_delivered=False
            )
        return BadRequest(f"recipients refused: {text}", status=max(codes, default=550))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"SMTP {exc.code}: {exc.message}"
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or exc.code in _AUTH_CODES:
            return AuthenticationFailed(text, status=exc.code)
        if 400 <= exc.code < 500 or exc.code < 400:
            # A reply code is the server's word that the message was not queued.
            return MarketplaceUnavailable(text, status=exc.code, maybe_delivered=False)
        return BadRequest(text, status=exc.code)
    return MarketplaceUnavailable(
        f"SMTP relay failed: {type(exc).__name__}: {exc}",
        # Never connected: nothing can have been queued. Anything else (a timeout, a
        # disconnect) may have come after the relay's 250.
        maybe_delivered=not isinstance(exc, aiosmtplib.SMTPConnectError),
    )
