"""In-memory fakes of the gateway's ports (see parley_gateway.ports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from parley_connectors.email_relay import message_ids
from parley_gateway.ports import DeliveryRecord, MailNotSent
from parley_schemas import ReplyCommand


@dataclass
class InMemoryDeliveryRecords:
    """:class:`~parley_gateway.ports.DeliveryRecords` in memory: command id → row, as
    the responder leaves its records (the gateway only reads them)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def hold(
        self,
        command: ReplyCommand,
        state: str = "failed",
        error: str | None = None,
        *,
        attempts: int = 1,
        kept: bool = True,
    ) -> None:
        """A delivery record as the responder leaves it (``kept``: it stored the command)."""
        self.rows[command.command_id] = {
            "discussion_id": command.discussion_id,
            "state": state,
            "retry": command.retry,
            "attempts": attempts,
            "error": error,
            "command": command if kept else None,
        }

    async def find(self, discussion_id: str, command_id: str) -> DeliveryRecord | None:
        row = self.rows.get(command_id)
        if row is None or row["discussion_id"] != discussion_id:
            return None
        return DeliveryRecord(row["state"], row["retry"], row["command"])


class FakeMailer:
    """:class:`~parley_gateway.ports.Mailer` in memory: keeps what it sends.

    Like SmtpMailer (tests/contract/ports/test_mailer.py), it refuses a mail without
    a Message-ID, a From or a recipient (ValueError) and answers the Message-ID without
    brackets; ``refuse`` makes sends fail as the relay would.
    """

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse: MailNotSent | None = None

    async def send(self, message: EmailMessage) -> str:
        ids = message_ids(message.get("Message-ID"))
        if not ids:
            raise ValueError("a message to send needs a Message-ID")
        recipients = [a for name in ("To", "Cc", "Bcc") for a in message.get_all(name) or []]
        if not message["From"] or not recipients:
            raise ValueError("a message to send needs From and at least one recipient")
        if self.refuse is not None:
            raise self.refuse
        self.sent.append(message)
        return ids[0]
