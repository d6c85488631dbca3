"""Contract: the gateway's Mailer, the same assertions on the fake and on SmtpMailer.

The real adapter submits to the sandbox's SMTP sink (aiosmtpd, in this event loop),
which keeps what it accepted and answers the SMTP codes a relay would when armed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Protocol

import pytest
from fakes.gateway import FakeMailer

from parley_connectors.email_relay import SmtpRelaySettings
from parley_gateway.adapters.smtp_mailer import SmtpMailer
from parley_gateway.ports import Mailer, MailNotSent
from parley_sandbox.faults import Fault, FaultKind
from parley_sandbox.smtp_sink import EmailSandbox, SmtpSink


class Relay(Protocol):
    mailer: Mailer

    def refuse(self, temporary: bool) -> None:
        """The relay answers the next mail with a 4xx (temporary) or a 5xx."""

    def subjects(self) -> list[str]:
        """What the relay accepted so far."""
        ...


class FakeRelay:
    def __init__(self) -> None:
        self.mailer = FakeMailer()

    def refuse(self, temporary: bool) -> None:
        self.mailer.refuse = MailNotSent("refused", temporary=temporary)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.mailer.sent]


class SinkRelay:
    def __init__(self, state: EmailSandbox, port: int) -> None:
        self.state = state
        self.mailer = SmtpMailer(SmtpRelaySettings(host="127.0.0.1", port=port, starttls=False))

    def refuse(self, temporary: bool) -> None:
        status = 451 if temporary else 554
        self.state.faults.arm(Fault(kind=FaultKind.SERVER_ERROR, status=status))

    def subjects(self) -> list[str]:
        return [str(m.describe()["subject"]) for m in self.state.outbox]


@pytest.fixture(params=["fake", "smtp"])
async def relay(request: pytest.FixtureRequest) -> AsyncIterator[Relay]:
    if request.param == "fake":
        yield FakeRelay()
        return
    state = EmailSandbox(listen_port=0)
    server = SmtpSink(state)
    await server.start(port=0)
    assert server.port is not None
    try:
        yield SinkRelay(state, server.port)
    finally:
        await server.stop()


def mail(subject: str = "[Test] autoresponder", **headers: str | None) -> EmailMessage:
    message = EmailMessage()
    fields: dict[str, str | None] = {
        "From": "Shop <autoresponder@parley.test>",
        "To": "shop@example.com",
        "Subject": subject,
        "Message-ID": f"<{uuid.uuid4().hex}@parley.test>",
        **headers,
    }
    for name, value in fields.items():
        if value is not None:
            message[name] = value
    message.set_content("Hello")
    return message


async def test_an_accepted_mail_answers_its_message_id_without_brackets(relay: Relay) -> None:
    message = mail()
    sent = await relay.mailer.send(message)
    assert f"<{sent}>" == message["Message-ID"]
    assert relay.subjects() == ["[Test] autoresponder"]


@pytest.mark.parametrize(
    "missing",
    [{"Message-ID": None}, {"From": None}, {"To": None}],
    ids=["message-id", "from", "recipient"],
)
async def test_a_mail_missing_what_sending_needs_is_refused_before_the_relay(
    relay: Relay, missing: dict[str, str | None]
) -> None:
    with pytest.raises(ValueError):
        await relay.mailer.send(mail(**missing))
    assert relay.subjects() == []


async def test_cc_alone_is_a_recipient(relay: Relay) -> None:
    await relay.mailer.send(mail(To=None, Cc="boss@example.com"))
    assert relay.subjects() == ["[Test] autoresponder"]


@pytest.mark.parametrize("temporary", [True, False], ids=["4xx", "5xx"])
async def test_a_refusal_is_mail_not_sent_saying_whether_to_try_later(
    relay: Relay, temporary: bool
) -> None:
    relay.refuse(temporary)
    with pytest.raises(MailNotSent) as refused:
        await relay.mailer.send(mail())
    assert refused.value.temporary is temporary
    assert relay.subjects() == []
