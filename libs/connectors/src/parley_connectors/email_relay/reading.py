"""The email-relay family (Amazon buyer-seller messaging, CDON) on ingest's side.

These marketplaces *push* buyer messages by email to the store's Parley address, so
there is nothing to poll: the scheduler's connector yields nothing and a manual resync
of one discussion has nothing to re-read (the relay keeps no mailbox we could query).
Inbound mail arrives through ingest's SMTP server (``adapters/smtp_server.py``) and is
turned into a snapshot here, one snapshot per mail, holding that one message:

- channel ``email``; thread id from the order id and the buyer's relay address, else
  from the ``References`` root (``parley_connectors.email_relay.threads``);
- the buyer is the customer, identified by the anonymised relay address, which Amazon
  keeps the same for every later contact (so it is also the ``marketplace_id``);
- the order, when the mail names one, is an ``order`` entity; the item Amazon's framing
  names (ASIN and title) is a ``product`` entity;
- the message body is the buyer's own text, without the relay's framing
  (``parley_connectors.email_relay.marketplaces.unframe``);
- ``sent_at`` is the mail's ``Date``, but never later than its arrival (a sender's
  clock cannot put a message in the future), and the arrival time when it has none;
- ``payload`` is the mail's headers and attachment list (never its bytes: attachments
  are stored in Parley's file store, and a Kafka record must stay small), and the
  framing removed from the body (``framing``), as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from parley_connectors.email_relay import InboundEmail
from parley_connectors.errors import NotFound
from parley_connectors.reading import ConnectionInfo, MalformedThread
from parley_schemas import (
    AttachmentRef,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
)

FAMILY = "email_relay"
CHANNEL = "email"


class EmailRelayConnector:
    """The polling side of an email-relay connection: inbound mail is pushed, not pulled."""

    def __init__(self, connection: ConnectionInfo) -> None:
        self._connection = connection

    async def changes_since(
        self, since: datetime
    ) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        return
        yield  # unreachable: makes this an async generator that ends at once

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        raise NotFound(
            f"thread {thread_id}: email-relay conversations cannot be re-read from the "
            "marketplace; every message arrived by mail and is already in Parley"
        )

    async def aclose(self) -> None:
        return None


def snapshot_of(
    connection: ConnectionInfo,
    mail: InboundEmail,
    attachments: Sequence[AttachmentRef],
    received_at: datetime,
    envelope: dict[str, object] | None = None,
) -> RawThreadSnapshot:
    """One mail as a snapshot of its conversation (see the module docstring)."""
    buyer = Participant(
        role=ParticipantRole.CUSTOMER,
        name=mail.buyer_name,
        email=mail.buyer_address,
        marketplace_id=mail.buyer_address,
    )
    sent_at = min(mail.sent_at, received_at) if mail.sent_at else received_at
    payload = mail.summary()
    payload["received_at"] = received_at.isoformat()
    if envelope:
        payload["envelope"] = envelope
    return RawThreadSnapshot(
        connection_id=connection.id,
        store_id=connection.store_id,
        marketplace=connection.marketplace,
        family=connection.family,
        channel=CHANNEL,
        thread_id=mail.thread_id,
        subject=mail.topic,
        entities=_entities(mail),
        participants=[buyer],
        messages=[
            RawMessage(
                marketplace_message_id=mail.message_id,
                sender=buyer,
                recipients=[ParticipantRole.MERCHANT],
                body=mail.text,
                sent_at=sent_at,
                attachments=list(attachments),
            )
        ],
        created_at=None,
        updated_at=sent_at,
        fetched_at=received_at,
        payload=payload,
    )


def _entities(mail: InboundEmail) -> list[RawEntity]:
    entities = [RawEntity(type="order", id=mail.order_id)] if mail.order_id else []
    if mail.framing.product_id:
        entities.append(
            RawEntity(type="product", id=mail.framing.product_id, label=mail.framing.product_title)
        )
    return entities
