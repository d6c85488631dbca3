"""Ingest's inbound SMTP server (aiosmtpd): where the marketplaces' relays deliver mail.

It runs in ingest's own event loop, next to the scheduler, and only translates the
service layer's outcomes (:mod:`parley_ingest.inbound_mail`) into SMTP replies:

- RCPT to an unknown address, or one whose messaging is disabled: ``550`` (the relay
  bounces at once, no data is sent); a lookup that fails: ``451``;
- DATA published (or dead-lettered because unreadable): ``250``, sent only after Kafka
  acknowledged, so a crash before that loses nothing: the relay did not get its 250
  and delivers again;
- DATA that could not be stored or published (Kafka or MongoDB down, too slow): ``451``,
  so the relay keeps the mail and retries.

With a certificate and its key (INGEST_SMTP_TLS_CERT_FILE / _KEY_FILE) the server
offers STARTTLS; with INGEST_SMTP_REQUIRE_STARTTLS it refuses mail (``530``) from a
client that did not use it. The files are re-read when they change on disk (a renewed
certificate is served to the next connection, without a restart). Spam filtering and
the public MX stay the platform's edge.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from parley_ingest.inbound_mail import DeliveryOutcome, InboundMailService, RecipientVerdict
from parley_platform.logging import get_logger
from parley_platform.tracing import job_span
from parley_schemas import utcnow

log = get_logger(__name__)

ACCEPTED = "250 2.0.0 Message accepted"
ACCEPTED_FOR_REVIEW = "250 2.0.0 Message accepted for review"
UNKNOWN_RECIPIENT = "550 5.1.1 Recipient address rejected: no such mailbox"
DISABLED_RECIPIENT = "550 5.7.1 Recipient address rejected: messaging is disabled"
TRY_LATER_LOOKUP = "451 4.3.0 Temporary lookup failure, try again later"
TRY_LATER_STORE = "451 4.3.0 Could not store the message, try again later"
NO_VALID_RECIPIENT = "554 5.5.1 No valid recipients"


class InboundMailHandler:
    """aiosmtpd handler hooks backed by :class:`InboundMailService`."""

    def __init__(self, service: InboundMailService, deliver_timeout: float = 120.0) -> None:
        self._service = service
        self._deliver_timeout = deliver_timeout

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            verdict = await self._service.check_recipient(address)
        except Exception as exc:  # MongoDB down: the relay must try again, not bounce
            log.error("inbound recipient lookup failed", error=f"{type(exc).__name__}: {exc}")
            return TRY_LATER_LOOKUP
        if verdict is RecipientVerdict.UNKNOWN:
            log.info("inbound mail for an unknown address refused")
            return UNKNOWN_RECIPIENT
        if verdict is RecipientVerdict.DISABLED:
            return DISABLED_RECIPIENT
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """One relayed mail, in a trace of its own: its snapshot carries the context."""
        with job_span("inbound mail", {"parley.mail.recipients": len(envelope.rcpt_tos)}) as span:
            reply = await self._deliver(envelope)
            span.set_attribute("smtp.reply", reply[:3])
            return reply

    async def _deliver(self, envelope: Envelope) -> str:
        raw = envelope.original_content or _as_bytes(envelope.content)
        try:
            async with asyncio.timeout(self._deliver_timeout):
                delivery = await self._service.deliver(
                    list(envelope.rcpt_tos), raw, utcnow(), mail_from=envelope.mail_from
                )
        except Exception as exc:  # Kafka or MongoDB failed: the relay keeps the mail
            log.error("inbound mail not stored", error=f"{type(exc).__name__}: {exc}")
            return TRY_LATER_STORE
        if delivery.outcome is DeliveryOutcome.NO_RECIPIENT:
            return NO_VALID_RECIPIENT
        if delivery.outcome is DeliveryOutcome.DEAD_LETTERED:
            return ACCEPTED_FOR_REVIEW
        return ACCEPTED


def _as_bytes(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8", errors="surrogateescape")
    return b""


class ServerCertificate:
    """The certificate and key STARTTLS offers, as a server-side TLS context (TLS 1.2+).

    The files are checked for a change (inode, modification time, size) at each connection and
    loaded again when they changed, so a renewed certificate (cert-manager, a rotated
    secret) needs no restart; a pair that does not load keeps the previous context.
    """

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self._cert_file = cert_file
        self._key_file = key_file
        self._stamp: tuple[tuple[int, int, int], ...] = ()
        self._context = self._load()

    def _files_stamp(self) -> tuple[tuple[int, int, int], ...]:
        """Inode too: a Kubernetes secret volume swaps a symlink to new files."""
        stats = (self._cert_file.stat(), self._key_file.stat())
        return tuple((st.st_ino, st.st_mtime_ns, st.st_size) for st in stats)

    def _load(self) -> ssl.SSLContext:
        stamp = self._files_stamp()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._cert_file, self._key_file, password="")
        self._stamp = stamp
        return context

    def context(self) -> ssl.SSLContext:
        try:
            if self._files_stamp() != self._stamp:
                self._context = self._load()
                log.info("inbound SMTP certificate loaded", cert_file=str(self._cert_file))
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.error(
                "inbound SMTP certificate not reloaded; the previous one is served",
                cert_file=str(self._cert_file),
                error=type(exc).__name__,
            )
        return self._context


class InboundSmtpServer:
    """Listens on ``host:port`` in the running event loop; ``port=0`` picks a free one.

    With ``certificate`` STARTTLS is offered; ``require_starttls`` (needs one) refuses
    every command but EHLO/HELO, NOOP, RSET, QUIT and STARTTLS before TLS (``530``).
    """

    def __init__(
        self,
        handler: InboundMailHandler,
        host: str,
        port: int,
        *,
        hostname: str,
        max_message_bytes: int,
        certificate: ServerCertificate | None = None,
        require_starttls: bool = False,
    ) -> None:
        if require_starttls and certificate is None:
            raise ValueError("require_starttls needs a certificate")
        self._handler = handler
        self._host = host
        self._port = port
        self._hostname = hostname
        self._max_message_bytes = max_message_bytes
        self._certificate = certificate
        self._require_starttls = require_starttls
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Binds and serves; a port that cannot be bound is logged, not fatal: polling goes
        on, and ingest's readiness probe reports the missing inbound mail server."""
        # aiosmtpd logs every command, recipients included, at INFO: buyer aliases are
        # personal data and the service logs what matters itself.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._protocol, host=self._host, port=self._port
            )
        except OSError as exc:
            log.error(
                "inbound SMTP server not started: email-relay mail cannot be received",
                host=self._host,
                port=self._port,
                error=str(exc),
            )
            return
        log.info(
            "inbound SMTP server listening",
            host=self._host,
            port=self.port,
            starttls="required" if self._require_starttls else bool(self._certificate),
        )

    def _protocol(self) -> SMTP:
        """One SMTP session per connection, with the current certificate."""
        return SMTP(
            self._handler,
            hostname=self._hostname,
            data_size_limit=self._max_message_bytes,
            enable_SMTPUTF8=True,
            loop=asyncio.get_running_loop(),
            tls_context=self._certificate.context() if self._certificate else None,
            require_starttls=self._require_starttls,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
