"""What the responder's handler needs from the outside world.

A family's write side (``MarketplaceReplies``, its ``Destination`` and its
``OrderDocuments`` channel) is declared in :mod:`parley_connectors.writing`, next to
the families that implement it, and re-exported here under the responder's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from parley_connectors.writing import Destination as Destination
from parley_connectors.writing import OrderDocuments as OrderDocuments
from parley_connectors.writing import Writer
from parley_responder.domain.attachments import LinkedFile, ReplyFile
from parley_schemas import DeliveryState, Envelope, ReplyCommand
from parley_store import DiscussionDocument, FileInfo, MessageDocument, StoredFile
from parley_store.autoresponders import AutoresponderKey, AutoresponderSettings

MarketplaceReplies = Writer  # a family's write side, as the responder calls it


@dataclass(frozen=True)
class PreparedReply:
    """What exactly goes out for one command, decided once and kept in the outbox.

    The body with its download links is fixed before the first attempt, so every
    later attempt, and the check after a crash, sends and looks for the same text.
    ``retry`` is the merchant retry it was prepared for.
    """

    body: str
    native: tuple[ReplyFile, ...] = ()
    linked: tuple[LinkedFile, ...] = ()
    retry: int = 0

    @property
    def native_bytes(self) -> int:
        return sum(f.size for f in self.native)


UNKNOWN = "unknown"  # the record's state for a failure that may have landed
UPLOADING = "uploading"  # an order document's state while its upload may be under way


@dataclass(frozen=True)
class OrderDocumentRecord:
    """Filing the reply's invoice on its order, kept with the delivery (at most once a
    command): ``uploading`` is recorded before the marketplace call, so a crash leaves
    it for the next run to check (never a blind second upload); then ``uploaded``,
    ``failed`` or ``skipped``, with ``detail`` saying why."""

    state: str  # uploading | uploaded | failed | skipped
    order_id: str
    file_id: str
    file_name: str = ""
    detail: str | None = None

    @property
    def settled(self) -> bool:
        return self.state != UPLOADING


@dataclass(frozen=True)
class Delivery:
    """The durable record of one reply (the outbox row), keyed by command id."""

    command_id: str
    state: str  # queued | sending | sent | failed | unknown
    attempts: int
    marketplace_message_id: str | None = None
    error: str | None = None
    sending_since: datetime | None = None
    retry: int = 0
    prepared: PreparedReply | None = None
    # Set when it failed after an attempt that may have landed: look before resending.
    unsure_since: datetime | None = None
    # The shop's message ids in the thread right before the first attempt of the
    # uncertain window (None: not recorded, or the marketplace cannot list them).
    known_ids: frozenset[str] | None = None
    next_attempt_at: datetime | None = None  # parked after a fault until then
    order_document: OrderDocumentRecord | None = None  # the invoice filed on the order

    @property
    def final(self) -> bool:
        """Settled until a merchant acts: sent, failed, or unknown (may have landed)."""
        return self.state in (
            DeliveryState.SENT.value,
            DeliveryState.FAILED.value,
            UNKNOWN,
        )


class DeliveryStore(Protocol):
    async def open(self, command: ReplyCommand) -> tuple[Delivery, bool]:
        """Returns the record, creating it as queued; the flag says it was created now."""

    async def begin_round(self, command: ReplyCommand) -> bool:
        """A merchant retry: the record moves from failed|unknown in round
        ``command.retry - 1`` to queued in ``command.retry``; True when it is in that
        round (now or already), False for a stale or not retryable request."""
        ...

    async def mark_sending(
        self, command_id: str, attempt: int, at: datetime, known_ids: frozenset[str] | None
    ) -> None:
        """Recorded before the marketplace call, with what the thread had before it."""

    async def mark_unknown(self, command_id: str, reason: str, unsure_since: datetime) -> Delivery:
        """It may have landed and the marketplace cannot tell: the merchant decides."""
        ...

    async def mark_sent(self, command_id: str, marketplace_message_id: str | None) -> Delivery: ...

    async def mark_failed(
        self, command_id: str, error: str, unsure_since: datetime | None = None
    ) -> Delivery: ...

    async def save_prepared(self, command_id: str, prepared: PreparedReply) -> PreparedReply:
        """Keeps ``prepared`` unless one for this retry is already kept; answers the kept one."""
        ...

    async def mark_retrying(
        self,
        command_id: str,
        error: str,
        *,
        attempts: int,
        next_attempt_at: datetime | None,
        sending: bool,
    ) -> None:
        """Parks the reply after a fault: ``attempts`` so far and when the next one is
        due (None: no next one). ``queued`` again, unless ``sending`` (an earlier
        attempt may have landed: the state stays for a crash to reconcile)."""

    async def mark_order_document(self, command_id: str, record: OrderDocumentRecord) -> Delivery:
        """Keeps where filing the invoice on the order stands (see OrderDocumentRecord)."""
        ...


class DeliveryQueue(Protocol):
    """The replies accepted and not yet settled, durably (the outbox's to-do list).

    A command is added, with its delivery record, before its Kafka offset may be
    committed, and removed once the delivery settled: after a crash the queue says
    which replies to resume."""

    async def add(self, command: ReplyCommand) -> bool:
        """Opens the delivery record (with the command) and queues the command. A
        merchant retry (``retry`` > 0) first moves its record into that round
        (:meth:`DeliveryStore.begin_round`); False when it cannot: nothing is queued."""
        ...

    async def add_new(self, commands: Sequence[ReplyCommand]) -> None:
        """:meth:`add` for many first rounds (``retry`` 0) at once, with bulk writes: a
        record or queue entry that exists already is kept as :meth:`add` keeps it."""

    async def remove(self, command: ReplyCommand) -> None:
        """Done with this command (and this merchant retry of it)."""

    async def claim(self, command_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Takes (or renews) the lease on a queued command for ``owner`` until ``until``;
        False while another owner's lease runs (or the command left the queue)."""
        ...

    async def pending(self) -> list[ReplyCommand]:
        """Every queued command, oldest first."""
        ...


class DestinationLookup(Protocol):
    async def find(self, store_id: str, marketplace: str) -> Destination | None: ...


class FileSource(Protocol):
    """Parley's stored files (the merchant's uploads)."""

    async def describe(self, file_id: str) -> FileInfo | None: ...

    async def open(self, file_id: str) -> StoredFile:
        """Raises parley_store.FileNotStored when the file is gone."""
        ...


class ConversationUsage(Protocol):
    async def attachment_bytes(self, discussion_id: str, excluding_command: str) -> int:
        """Bytes of files the conversation already carries (sent by Parley or the buyer)."""
        ...


class ResultSink(Protocol):
    async def emit(self, envelope: Envelope[Any]) -> None: ...


class EventPublisher(Protocol):
    """The responder's conversation events (autoresponse sent); one adapter, Kafka."""

    async def publish(self, envelope: Envelope[Any]) -> None: ...


class ReplyDelivery(Protocol):
    """The reply path (the :class:`~parley_responder.handlers.Responder`): autoresponses
    take it too, so they share its outbox, rules, retries and delivery results."""

    async def on_reply(self, command: ReplyCommand) -> None: ...


class ConversationReader(Protocol):
    """The discussions the normalizer wrote, read-only."""

    async def discussion(self, discussion_id: str) -> DiscussionDocument | None: ...

    async def messages(self, discussion_id: str) -> list[MessageDocument]: ...

    async def delivery(self, command_id: str) -> Delivery | None:
        """The outbox record of a command, as the reply path left it."""


class AutoresponderLookup(Protocol):
    async def get(self, key: AutoresponderKey) -> AutoresponderSettings | None: ...


class NotificationLog(Protocol):
    """Which autoresponses' notification copies went out: each is sent once."""

    async def notified(self, command_id: str) -> bool: ...

    async def record(self, command_id: str, discussion_id: str, recipients: list[str]) -> None: ...


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Submits the mail; returns its Message-ID once the relay accepted it."""
