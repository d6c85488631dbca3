"""The email-relay family in the sandbox: an SMTP sink for replies, and a relay that writes.

Amazon's buyer-seller messaging and CDON relay buyer messages by email, so there is no
marketplace API to imitate; the sandbox plays both ends of the relay instead:

- **the outbound relay**: an SMTP server (aiosmtpd) where Parley's responder submits
  replies; it keeps every mail it accepts, listed under ``/_sandbox/email/outbox``
  with the headers tests check (``In-Reply-To``, ``References``, recipients …);
- **the inbound relay**: ``POST /_sandbox/email/inbound`` writes a buyer message the
  way the marketplace's relay would (the buyer's anonymised alias in
  ``marketplace.amazon.<tld>`` or a ``cdon.<tld>`` domain, the order id in the
  subject) and delivers it by SMTP to Parley's inbound server, answering with what
  that server replied (250, 451, 550 …).

Faults (``/_sandbox/email/faults``, reusing :mod:`parley_sandbox.faults`) make the
sink refuse the next N mails with a temporary or permanent SMTP code, or answer late.

Where it listens: ``SANDBOX_SMTP_HOST``/``SANDBOX_SMTP_PORT`` (127.0.0.1:2526, the
responder's default relay; ``off`` disables it); where Parley's inbound server is:
``SANDBOX_PARLEY_SMTP_HOST``/``SANDBOX_PARLEY_SMTP_PORT`` (127.0.0.1:2525, ingest's
default), changeable at run time with ``PUT /_sandbox/email/config``. The sink starts
with the app's lifespan (uvicorn); in-process tests start it with :meth:`SmtpSink.start`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from html import escape
from typing import Any, Literal

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from parley_sandbox.faults import Fault, FaultKind, FaultQueue

log = logging.getLogger(__name__)

OPERATION = "SMTP"
DEFAULT_SINK_PORT = 2526
DEFAULT_PARLEY_PORT = 2525


@dataclass(frozen=True)
class ReceivedMail:
    """One mail the sink accepted, as submitted."""

    id: str
    received_at: datetime
    mail_from: str | None
    rcpt_to: tuple[str, ...]
    raw: bytes = field(repr=False)

    def describe(self, *, source: bool = False) -> dict[str, Any]:
        message = BytesParser(policy=policy.default).parsebytes(self.raw)
        body = message.get_body(preferencelist=("plain", "html"))
        attachments = [
            {
                "name": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for part in message.iter_attachments()
        ]
        out: dict[str, Any] = {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "rcpt_to": list(self.rcpt_to),
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "message_id": str(message.get("Message-ID", "")) or None,
            "in_reply_to": str(message.get("In-Reply-To", "")) or None,
            "references": str(message.get("References", "")).split(),
            "date": str(message.get("Date", "")) or None,
            "content_type": message.get_content_type(),
            "text": body.get_content().replace("\r\n", "\n") if body is not None else "",
            "attachments": attachments,
        }
        if source:
            out["source"] = self.raw.decode("utf-8", errors="replace")
        return out


@dataclass
class EmailSandbox:
    """The sink's state: what it received, its faults, where Parley listens."""

    listen_host: str = "127.0.0.1"
    listen_port: int | None = DEFAULT_SINK_PORT
    parley_host: str = "127.0.0.1"
    parley_port: int = DEFAULT_PARLEY_PORT
    outbox: list[ReceivedMail] = field(default_factory=list)
    faults: FaultQueue = field(default_factory=FaultQueue)

    @classmethod
    def from_env(cls) -> EmailSandbox:
        port = os.environ.get("SANDBOX_SMTP_PORT", str(DEFAULT_SINK_PORT)).strip().lower()
        return cls(
            listen_host=os.environ.get("SANDBOX_SMTP_HOST", "127.0.0.1"),
            listen_port=None if port in ("", "off", "none") else int(port),
            parley_host=os.environ.get("SANDBOX_PARLEY_SMTP_HOST", "127.0.0.1"),
            parley_port=int(os.environ.get("SANDBOX_PARLEY_SMTP_PORT", str(DEFAULT_PARLEY_PORT))),
        )


class SinkHandler:
    """aiosmtpd hook: keep the mail, unless a fault says otherwise."""

    def __init__(self, state: EmailSandbox) -> None:
        self._state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self._state.faults.take(OPERATION)
        if fault is not None:
            if fault.kind is FaultKind.SLOW:
                await asyncio.sleep(fault.delay_seconds)
            elif fault.kind is FaultKind.RATE_LIMIT:
                return "421 4.7.0 Too many messages, slow down and try again later"
            elif fault.kind is FaultKind.SERVER_ERROR:
                code = fault.status if 400 <= fault.status < 600 else 451
                kind = "4.3.0 Temporary" if code < 500 else "5.7.1 Permanent"
                return f"{code} {kind} failure (sandbox fault)"
        raw = envelope.original_content or b""
        self._state.outbox.append(
            ReceivedMail(
                id=uuid.uuid4().hex[:12],
                received_at=datetime.now(UTC),
                mail_from=envelope.mail_from,
                rcpt_to=tuple(envelope.rcpt_tos),
                raw=raw,
            )
        )
        return "250 2.0.0 Queued by the sandbox relay"


class SmtpSink:
    """The sink's SMTP server, in the running event loop (``port=0``: a free port)."""

    def __init__(self, state: EmailSandbox) -> None:
        self._state = state
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        loop = asyncio.get_running_loop()
        handler = SinkHandler(self._state)
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="relay.sandbox.invalid", loop=loop),
            host=host or self._state.listen_host,
            port=self._state.listen_port if port is None else port,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


# --- control API ---------------------------------------------------------------------

router = APIRouter(prefix="/_sandbox/email")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttachmentIn(_Body):
    name: str = Field(min_length=1)
    content_base64: str
    content_type: str = "application/octet-stream"


class InboundMailIn(_Body):
    """A buyer message as the marketplace's relay would deliver it to Parley."""

    to: str = Field(min_length=3, description="The store's Parley inbound address")
    body: str = Field(min_length=1)
    marketplace: Literal["amazon", "cdon"] = "amazon"
    format: Literal["text", "html", "alternative"] = "text"
    buyer_name: str = "Jane Doe"
    buyer_alias: str | None = Field(
        default=None, description="Local part of the relay address; stable per buyer name"
    )
    tld: str | None = Field(default=None, description="amazon: com, de, co.uk …; cdon: se …")
    order_id: str | None = None
    inquiry: Literal["order", "product"] = "order"
    subject: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    attachments: list[AttachmentIn] = Field(default_factory=list)


class ConfigIn(_Body):
    parley_smtp_host: str | None = None
    parley_smtp_port: int | None = Field(default=None, ge=1, le=65535)


class EmailFaultIn(_Body):
    kind: Literal["rate_limit", "server_error", "slow"]
    count: int = Field(default=1, ge=1, le=1000)
    status: int = Field(default=451, ge=400, le=599, description="SMTP code for server_error")
    delay_seconds: float = Field(default=2.0, ge=0, le=60)


def state_of(request: Request) -> EmailSandbox:
    state: EmailSandbox = request.app.state.email
    return state


@router.get("/outbox")
async def list_outbox(request: Request, to: str | None = None) -> dict[str, Any]:
    """What Parley sent through the relay, oldest first; ``to`` filters by recipient."""
    mails = [
        m.describe()
        for m in state_of(request).outbox
        if to is None or to.lower() in (r.lower() for r in m.rcpt_to)
    ]
    return {"mails": mails}


@router.get("/outbox/{mail_id}")
async def get_mail(request: Request, mail_id: str) -> dict[str, Any]:
    for mail in state_of(request).outbox:
        if mail.id == mail_id:
            return mail.describe(source=True)
    raise HTTPException(404, f"no mail {mail_id}")


@router.delete("/outbox")
async def clear_outbox(request: Request) -> dict[str, Any]:
    state_of(request).outbox.clear()
    return {"mails": []}


@router.put("/config")
async def configure(request: Request, body: ConfigIn) -> dict[str, Any]:
    state = state_of(request)
    state.parley_host = body.parley_smtp_host or state.parley_host
    state.parley_port = body.parley_smtp_port or state.parley_port
    return {"parley_smtp_host": state.parley_host, "parley_smtp_port": state.parley_port}


@router.post("/inbound")
async def inject_inbound(request: Request, body: InboundMailIn) -> dict[str, Any]:
    """Delivers a relay-style buyer mail to Parley's inbound SMTP server."""
    state = state_of(request)
    message, order_id = relay_message(body)
    try:
        _, reply = await aiosmtplib.send(
            message, hostname=state.parley_host, port=state.parley_port, timeout=30
        )
        code, text = 250, reply
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        code, text = refused.code, refused.message
    except aiosmtplib.SMTPResponseException as exc:
        code, text = exc.code, exc.message
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise HTTPException(
            502, f"Parley's inbound SMTP server at {state.parley_host}:{state.parley_port}: {exc}"
        ) from exc
    return {
        "accepted": code == 250,
        "code": code,
        "reply": text,
        "message_id": str(message["Message-ID"]).strip("<>"),
        "from": str(message["From"]),
        "subject": str(message["Subject"]),
        "order_id": order_id,
    }


@router.post("/faults", status_code=201)
async def arm_fault(request: Request, body: EmailFaultIn) -> dict[str, Any]:
    state = state_of(request)
    state.faults.arm(
        Fault(
            kind=FaultKind(body.kind),
            remaining=body.count,
            status=body.status,
            delay_seconds=body.delay_seconds,
        )
    )
    return {"faults": state.faults.pending()}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": state_of(request).faults.pending()}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    state_of(request).faults.clear()
    return {"faults": []}


def relay_message(body: InboundMailIn) -> tuple[EmailMessage, str | None]:
    """The mail the marketplace's relay would send for ``body``, and its order id."""
    alias = body.buyer_alias or hashlib.sha256(body.buyer_name.encode()).hexdigest()[:15]
    if body.marketplace == "amazon":
        domain = f"marketplace.amazon.{body.tld or 'com'}"
        sender = Address(f"{body.buyer_name} - Amazon Marketplace", addr_spec=f"{alias}@{domain}")
        order_id = None if body.inquiry == "product" else body.order_id or _amazon_order_id()
        subject = body.subject or (
            f"Inquiry from Amazon customer {body.buyer_name} (Order: {order_id})"
            if order_id
            else f"Product details inquiry from Amazon customer {body.buyer_name}"
        )
    else:
        domain = f"errands.cdon.{body.tld or 'se'}"
        sender = Address(f"{body.buyer_name} via CDON", addr_spec=f"{alias}@{domain}")
        order_id = None if body.inquiry == "product" else body.order_id or _cdon_order_id()
        subject = body.subject or (
            f"Errand from {body.buyer_name} - Ordernummer: {order_id}"
            if order_id
            else f"Question from {body.buyer_name}"
        )
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = body.to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = (
        f"<{body.message_id.strip('<>')}>" if body.message_id else make_msgid(domain=domain)
    )
    if body.in_reply_to:
        message["In-Reply-To"] = f"<{body.in_reply_to.strip('<>')}>"
    references = body.references or ([body.in_reply_to] if body.in_reply_to else [])
    if references:
        message["References"] = " ".join(f"<{r.strip('<>')}>" for r in references)
    if body.format == "html":
        message.set_content(_html(body.body), subtype="html")
    else:
        message.set_content(body.body)
        if body.format == "alternative":
            message.add_alternative(_html(body.body), subtype="html")
    for item in body.attachments:
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HTTPException(400, f"attachment {item.name}: not base64") from exc
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            content, maintype=maintype, subtype=subtype or "octet-stream", filename=item.name
        )
    return message, order_id


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    return f"<html><body>{paragraphs}</body></html>"


def _amazon_order_id() -> str:
    return "-".join(
        (f"{random.randint(100, 999)}", *(f"{random.randint(0, 9_999_999):07d}" for _ in "ab"))
    )


def _cdon_order_id() -> str:
    return str(random.randint(10_000_000, 99_999_999))


# --- wiring --------------------------------------------------------------------------


def mount(app: FastAPI) -> None:
    """Adds the email relay (state, control routes, the sink in the app's lifespan)."""
    state = EmailSandbox.from_env()
    app.state.email = state
    app.include_router(router)
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        sink = SmtpSink(state)
        if state.listen_port is not None:
            try:
                await sink.start()
                log.info("sandbox SMTP sink on %s:%s", state.listen_host, sink.port)
            except OSError as exc:  # the other families must still serve
                log.warning("sandbox SMTP sink not started: %s", exc)
        try:
            async with outer(application) as inner:
                yield inner
        finally:
            with contextlib.suppress(Exception):
                await sink.stop()

    app.router.lifespan_context = lifespan
