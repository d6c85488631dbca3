"""What the service layer needs from the outside world; adapters/ implements it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from parley_gateway.domain import (
    Account,
    DiscussionFilters,
    Position,
    Scope,
    StatusChange,
    StoredKey,
    WorkflowUpdate,
)
from parley_schemas import AttachmentRef, Envelope, ReplyCommand, ResyncRequest
from parley_store import (
    ConnectionDocument,
    DiscussionDocument,
    DiscussionStatus,
    FileDownload,
    FileInfo,
    MessageDocument,
)
from parley_store.autoresponders import AutoresponderKey, AutoresponderSettings


class AccountExists(ValueError):
    """An account with that id already exists."""


class KeyIdTaken(ValueError):
    """A key with that id already exists (a 48-bit collision: issue another)."""


@dataclass(frozen=True)
class WorkflowWrite:
    """A discussion just before and just after one write of its workflow fields: what
    changed is what the gateway announces (docs/events.md)."""

    before: DiscussionDocument
    after: DiscussionDocument


class DiscussionRepository(Protocol):
    """The discussions read model, and the workflow fields the gateway owns.

    Every discussion query takes the caller's :class:`Scope`; a discussion outside it
    behaves exactly like one that does not exist.
    """

    async def find_page(
        self, scope: Scope, filters: DiscussionFilters, after: Position | None, limit: int
    ) -> list[DiscussionDocument]:
        """Up to ``limit`` discussions in list order, strictly after ``after``."""
        ...

    async def count_by_status(
        self, scope: Scope, filters: DiscussionFilters
    ) -> dict[DiscussionStatus, int]:
        """How many discussions match, per status (statuses without any may be missing)."""
        ...

    async def count_at_risk(
        self, scope: Scope, filters: DiscussionFilters, due_before: datetime
    ) -> int:
        """How many match and expect a reply due before ``due_before``, not solved or
        closed (see domain.listing.SETTLED)."""
        ...

    async def get(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None: ...

    async def mark_read(self, scope: Scope, discussion_id: str) -> WorkflowWrite | None:
        """Sets ``read``; the discussion before and after that write."""
        ...

    async def messages_of(self, discussion: DiscussionDocument) -> list[MessageDocument]:
        """Oldest first. Takes a document (from a scoped read), not a bare id, on purpose."""
        ...

    async def attachment_of(
        self, discussion: DiscussionDocument, file_id: str
    ) -> AttachmentRef | None:
        """The attachment stored as ``file_id`` on one of the discussion's messages."""
        ...

    async def change_status(
        self, scope: Scope, discussion_id: str, change: StatusChange
    ) -> WorkflowWrite | None:
        """Applies the change atomically; None when its condition did not hold."""
        ...

    async def update_workflow(
        self, scope: Scope, discussion_id: str, update: WorkflowUpdate
    ) -> WorkflowWrite | None:
        """Sets the update's fields; the discussion before and after that write."""
        ...

    async def set_status_many(
        self, scope: Scope, discussion_ids: Sequence[str], status: DiscussionStatus
    ) -> dict[str, WorkflowWrite]:
        """Sets ``status`` on those of the discussions in scope; answers them by id."""
        ...

    async def ping(self) -> None:
        """Raises when the store does not answer."""
        ...


class FileStore(Protocol):
    """Parley's stored files (attachments), read as a stream."""

    async def download(self, file_id: str) -> FileDownload:
        """Raises parley_store.FileNotStored when there is no such file."""
        ...


class EventPublisher(Protocol):
    """The gateway's conversation events (workflow changes), the one way it announces
    them: Kafka today; the transactional outbox can take the adapter's place."""

    async def publish(self, events: Sequence[Envelope[Any]]) -> None:
        """Returns once every event is durably queued, in order; raises otherwise."""
        ...


class CommandPublisher(Protocol):
    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        """Returns once the command is durably stored for publishing (the outbox); raises
        when it could not be stored (the store is down), and then nothing was queued."""
        ...

    async def publish_resync(self, envelope: Envelope[ResyncRequest]) -> None:
        """As :meth:`publish_reply`, for a resync request."""
        ...


class AccountRepository(Protocol):
    """Accounts and the digests of their API keys."""

    async def add_account(self, account: Account) -> None:
        """Raises AccountExists when the id is taken."""
        ...

    async def get_account(self, account_id: str) -> Account | None: ...

    async def list_accounts(self) -> list[Account]:
        """Every account, by id."""
        ...

    async def list_keys(self, account_id: str) -> list[StoredKey]:
        """The account's keys, revoked ones included, oldest first."""
        ...

    async def add_key(self, key: StoredKey) -> None:
        """Raises KeyIdTaken when the key id is taken."""
        ...

    async def get_key(self, key_id: str) -> StoredKey | None: ...

    async def revoke_key(self, key_id: str, revoked_at: datetime) -> bool:
        """False when there is no such key; revoking twice keeps the first time."""
        ...


class ConnectionReader(Protocol):
    """Ingest's marketplace connections, read only."""

    async def list(self, store_ids: frozenset[str] | None) -> list[ConnectionDocument]:
        """Those of these stores (None: every store), by store, marketplace and id."""
        ...


class AutoresponderRepository(Protocol):
    """Saved autoresponder settings (F19); parley_store.autoresponder_store implements it."""

    async def get(self, key: AutoresponderKey) -> AutoresponderSettings | None: ...

    async def list(self, store_ids: Iterable[str] | None) -> list[AutoresponderSettings]:
        """Saved settings of these stores (``None``: every store), in key order."""
        ...

    async def save(self, settings: AutoresponderSettings) -> None: ...


class MailNotSent(RuntimeError):
    """The SMTP relay did not take the mail; ``temporary`` when trying later may work."""

    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Submits the mail; returns its Message-ID once the relay accepted it, raises
        MailNotSent otherwise."""
        ...


class UploadStore(Protocol):
    """Files merchants upload to attach to replies (GridFS in production)."""

    async def save(
        self, key: str, name: str, content_type: str, content: bytes, **metadata: str
    ) -> str:
        """Stores the file (``metadata`` carries its owning ``store_id``); its id."""
        ...

    async def describe(self, file_id: str) -> FileInfo | None: ...

    async def download(self, file_id: str) -> FileDownload:
        """Raises parley_store.FileNotStored when there is no such file."""
        ...


@dataclass(frozen=True)
class DeliveryRecord:
    """A reply's delivery record as the responder keeps it, as far as a retry needs."""

    state: str  # queued | sending | sent | failed | unknown
    retry: int  # the merchant retry round it is in
    command: ReplyCommand | None  # None: written before commands were kept


class DeliveryRecords(Protocol):
    """The responder's delivery records, read only: the responder is their one writer,
    and the gateway asks it for a retry with a command (see parley_gateway.deliveries)."""

    async def find(self, discussion_id: str, command_id: str) -> DeliveryRecord | None:
        """The record, None when the discussion has no such delivery."""
        ...


class InvoicerUnavailable(RuntimeError):
    """The invoicer did not answer in time, or answered that it cannot now (5xx):
    nothing the client sent is at fault, so the API answers 503 + Retry-After."""


class InvoicerRefused(ValueError):
    """The invoicer refused the request (4xx) with a problem+json body.

    ``status`` and ``problem`` are the invoicer's own (its 422 names each invalid or
    missing field as a JSON Pointer into the body it was sent), passed through to the
    API client after the pointers are moved to where the client sent those fields.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or f"invoicer answered {status}"))
        self.status = status
        self.problem = problem


@dataclass(frozen=True)
class IssuedDocument:
    """An invoice or credit note the invoicer numbered and stored, with its PDF.

    ``created`` is False when the order (or refund) was documented before: the same
    number and the same stored bytes again.
    """

    number: str
    kind: str  # invoice | credit_note
    file_id: str
    created: bool
    pdf: bytes


class Invoicer(Protocol):
    """The invoicer service (HTTP): the one writer of invoices, their numbers, files and
    the stores' invoice settings. Every method raises InvoicerUnavailable or
    InvoicerRefused; payloads are the invoicer's JSON documents."""

    async def get_settings(self, store_id: str) -> dict[str, Any] | None:
        """The store's saved invoice settings; None when none were saved."""
        ...

    async def put_settings(self, store_id: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Saves the settings (replacing the previous ones); the settings as saved."""
        ...

    async def issue_invoice(self, order: dict[str, Any]) -> IssuedDocument:
        """The order's invoice, issued once per order (store, marketplace, order id)."""
        ...

    async def issue_credit_note(self, refund: dict[str, Any]) -> IssuedDocument:
        """The refund's credit note, issued once per refund id."""
        ...

    async def documents_of(self, discussion_id: str) -> list[dict[str, Any]]:
        """The invoices and credit notes listed on the discussion, as the invoicer
        lists them (number, kind, issue_date, order_id, file_id, ...)."""
        ...

    async def pdf(self, file_id: str) -> bytes:
        """A stored document's PDF; InvoicerRefused(404) when there is none."""
        ...
