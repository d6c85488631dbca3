"""What a family's write side needs and gives, so it can live next to its client.

The responder owns the outbox, retries and reconciliation; a family's writer sends one
reply to one :class:`Destination` and lists the shop's replies in a thread
(:class:`ShopReply`) so the responder can tell whether an attempt landed. Writers that
need more of the world (the email relay reads the discussion it answers and sends
through SMTP; Allegro reads ingest's rotated tokens and asks ingest to refresh them)
get it through :class:`WriterDeps`, which the responder fills with its adapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable

from parley_connectors.files import OutgoingFile
from parley_schemas import ParticipantRole


@dataclass(frozen=True)
class Destination:
    """Where a reply goes: the connection of the discussion's store and marketplace."""

    family: str
    base_url: str
    credentials: dict[str, str]
    options: dict[str, str]
    connection_id: str | None = None  # where rotated credentials (OAuth) are saved back
    # The connection's store and marketplace: with a thread id, the discussion's key
    # (the email relay reads the thread it answers by it).
    store_id: str | None = None
    marketplace: str | None = None


@dataclass(frozen=True)
class ShopReply:
    """A message the shop sent in a thread, as the marketplace lists it."""

    id: str
    body: str
    sent_at: datetime


def same_text(listed: str, sent: str) -> bool:
    """Marketplaces trim and re-encode line ends; what they keep is otherwise our text."""
    return _canonical(listed) == _canonical(sent)


def _canonical(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


class Writer(Protocol):
    """A marketplace family's write side."""

    async def send(
        self,
        destination: Destination,
        thread_id: str,
        body: str,
        to: list[ParticipantRole],
        attachments: Sequence[OutgoingFile] = (),
        *,
        reference: str = "",
    ) -> str | None:
        """Sends, ``attachments`` natively; returns the marketplace's message id if told.

        ``reference`` is the command id: the same for every attempt of one reply, for
        families that can carry an id of ours (the email relay's Message-ID)."""

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        """The shop's messages in the thread dated at or after ``since`` (less the
        family's clock-skew margin), or None when the marketplace cannot be asked."""


@runtime_checkable
class OrderDocuments(Protocol):
    """A family's document channel (Mirakl OR74/OR72), next to its messages."""

    async def upload_order_document(
        self, destination: Destination, order_id: str, file: OutgoingFile, type_code: str
    ) -> None:
        """Files one document on the order; BadRequest with the marketplace's reasons
        when it refuses it."""

    async def has_order_document(
        self, destination: Destination, order_id: str, file_name: str
    ) -> bool:
        """Whether the order holds a document of that name (after an upload that may
        have landed)."""
        ...


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Submits the mail; returns its Message-ID once the relay accepted it."""
        ...


class ThreadReader(Protocol):
    """The discussions and messages the normalizer stored, read-only (MongoDB documents)."""

    async def discussion(self, discussion_id: str) -> dict[str, Any] | None: ...

    async def messages(
        self,
        discussion: dict[str, Any],
        projection: dict[str, int] | None = None,
        *,
        newest: int | None = None,
    ) -> list[dict[str, Any]]:
        """The discussion's messages (all, or the ``newest`` stored last), unordered."""
        ...


def chronological(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first, ties by ``_id``: the order the old sorted query gave."""
    return sorted(docs, key=lambda d: (d.get("sent_at") is None, d.get("sent_at"), str(d["_id"])))


class CredentialsReader(Protocol):
    """Reads a connection's (decrypted) credentials as ingest last saved them."""

    async def load_credentials(self, connection_id: str) -> dict[str, str] | None: ...


class RefreshRequests(Protocol):
    """Asks ingest, the owner of the credentials, to refresh a connection's tokens."""

    async def request_refresh(self, destination: Destination) -> None: ...


@dataclass(frozen=True)
class WriterDeps:
    """What the responder lends a family's writer; a writer that needs a missing one
    fails at start-up (its factory raises), not on the first reply."""

    mailer: MailSender | None = None
    threads: ThreadReader | None = None
    credentials: CredentialsReader | None = None
    refreshes: RefreshRequests | None = None
