"""Inbound relay mail: from a recipient and raw bytes to a snapshot on Kafka.

This is the service layer behind ingest's SMTP server; the server only translates its
outcomes into SMTP replies. The rules that keep mail from being lost:

- a mail is accepted (SMTP 250) only once everything it carried is safe: its
  attachments in Parley's file store and its snapshot acknowledged by Kafka. Any
  failure before that is *temporary* (SMTP 451): the relay keeps the mail and tries
  again later, and a mail delivered twice is harmless because its message id makes the
  normalizer drop the copy;
- a mail that cannot be read as a buyer message is *not* refused: refusing (5xx)
  would bounce the buyer's message and retrying (4xx) would never fix it. Its bytes are
  kept in the file store, a dead letter with the reason and that file's id goes to the
  dead-letter topic, and the mail is accepted, so a person can look at it and replay it;
- an address that belongs to no connection, or to one whose messaging is disabled, is
  refused at RCPT time (SMTP 550), before the relay sends any data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from parley_connectors.email_relay import InboundEmail, RelayPayloadError, parse_inbound
from parley_connectors.email_relay.reading import FAMILY, snapshot_of
from parley_ingest.domain.connections import Connection
from parley_ingest.ports import FileStore, MalformedThread, SnapshotSink
from parley_platform.logging import get_logger
from parley_schemas import AttachmentRef

log = get_logger(__name__)

HEADERS_EXCERPT_BYTES = 16 * 1024


class InboundAddressBook(Protocol):
    async def connection_for(self, address: str) -> Connection | None: ...


class RecipientVerdict(StrEnum):
    ACCEPT = "accept"
    UNKNOWN = "unknown"
    DISABLED = "disabled"


class DeliveryOutcome(StrEnum):
    PUBLISHED = "published"
    DEAD_LETTERED = "dead_lettered"
    NO_RECIPIENT = "no_recipient"


@dataclass(frozen=True)
class Delivery:
    outcome: DeliveryOutcome
    published: int = 0
    dead_lettered: int = 0
    reason: str | None = None


class InboundMailService:
    def __init__(
        self,
        addresses: InboundAddressBook,
        sink: SnapshotSink,
        files: FileStore,
        max_attachment_bytes: int,
    ) -> None:
        self._addresses = addresses
        self._sink = sink
        self._files = files
        self._max_attachment_bytes = max_attachment_bytes

    async def check_recipient(self, address: str) -> RecipientVerdict:
        """Raises when the lookup itself fails (the caller answers "try again later")."""
        connection = await self._addresses.connection_for(address)
        if connection is None or connection.family != FAMILY:
            return RecipientVerdict.UNKNOWN
        if not connection.messaging_enabled:
            return RecipientVerdict.DISABLED
        return RecipientVerdict.ACCEPT

    async def deliver(
        self,
        recipients: Sequence[str],
        raw: bytes,
        received_at: datetime,
        mail_from: str | None = None,
    ) -> Delivery:
        """Publishes the mail for every known recipient; raises when it must be retried."""
        connections: dict[str, Connection] = {}
        for address in recipients:
            connection = await self._addresses.connection_for(address)
            if (
                connection is not None
                and connection.family == FAMILY
                and connection.messaging_enabled
            ):
                connections.setdefault(connection.id, connection)
        if not connections:
            return Delivery(DeliveryOutcome.NO_RECIPIENT)
        envelope: dict[str, object] = {"mail_from": mail_from, "rcpt_to": list(recipients)}
        try:
            mail = parse_inbound(raw)
        except RelayPayloadError as exc:
            for connection in connections.values():
                await self._dead_letter(connection, exc.reason, raw, envelope)
            return Delivery(
                DeliveryOutcome.DEAD_LETTERED, dead_lettered=len(connections), reason=exc.reason
            )
        for connection in connections.values():
            refs = await self._store_attachments(connection, mail)
            await self._sink.publish(snapshot_of(connection, mail, refs, received_at, envelope))
            log.info(
                "inbound mail published",
                connection_id=connection.id,
                thread_id=mail.thread_id,
                attachments=len(refs),
            )
        return Delivery(DeliveryOutcome.PUBLISHED, published=len(connections))

    async def _store_attachments(
        self, connection: Connection, mail: InboundEmail
    ) -> list[AttachmentRef]:
        """Each file stored once (keyed by message id and position); oversized ones are
        listed with their size but not stored, as for the polled families."""
        message_key = hashlib.sha256(mail.message_id.encode()).hexdigest()[:32]
        refs = []
        for index, attachment in enumerate(mail.attachments, start=1):
            ref_id = f"{mail.message_id}#{index}"
            ref = AttachmentRef(
                marketplace_attachment_id=ref_id,
                name=attachment.name,
                size=attachment.size,
                content_type=attachment.content_type,
            )
            if attachment.size > self._max_attachment_bytes:
                log.warning(
                    "inbound attachment over the size limit not stored",
                    connection_id=connection.id,
                    size=attachment.size,
                )
                refs.append(ref)
                continue
            file_id = await self._files.save(
                f"{connection.id}/mail/{message_key}/{index}",
                attachment.name,
                attachment.content_type,
                attachment.content,
                connection_id=connection.id,
            )
            refs.append(ref.model_copy(update={"file_id": file_id}))
        return refs

    async def _dead_letter(
        self, connection: Connection, reason: str, raw: bytes, envelope: dict[str, object]
    ) -> None:
        digest = hashlib.sha256(raw).hexdigest()
        file_id = await self._files.save(
            f"{connection.id}/mail/raw/{digest[:32]}",
            f"{digest[:16]}.eml",
            "message/rfc822",
            raw,
            connection_id=connection.id,
        )
        headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:HEADERS_EXCERPT_BYTES]
        log.warning(
            "unreadable inbound mail dead-lettered", connection_id=connection.id, reason=reason
        )
        await self._sink.dead_letter(
            connection,
            MalformedThread(
                reason=f"inbound email: {reason}",
                thread_id=None,
                payload={
                    "raw_file_id": file_id,
                    "size": len(raw),
                    "sha256": digest,
                    "headers": headers.decode("utf-8", errors="replace"),
                    "envelope": envelope,
                },
            ),
        )
