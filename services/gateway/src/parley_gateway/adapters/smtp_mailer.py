"""SMTP adapter of :class:`~parley_gateway.ports.Mailer` (autoresponder test mails).

Reuses the connectors' :class:`SmtpSender` (TLS, authentication, timeouts and the
mapping of SMTP answers), translating its marketplace-flavoured errors into the
gateway's own :class:`MailNotSent`, so the service layer needs no connector import.
"""

from __future__ import annotations

from email.message import EmailMessage

from parley_connectors.email_relay import SmtpRelaySettings, SmtpSender
from parley_connectors.errors import MarketplaceError, MarketplaceUnavailable
from parley_gateway.ports import MailNotSent


class SmtpMailer:
    def __init__(self, settings: SmtpRelaySettings) -> None:
        self._sender = SmtpSender(settings)

    async def send(self, message: EmailMessage) -> str:
        try:
            return await self._sender.send(message)
        except MarketplaceError as exc:
            raise MailNotSent(
                str(exc) or type(exc).__name__,
                temporary=isinstance(exc, MarketplaceUnavailable),
            ) from exc
