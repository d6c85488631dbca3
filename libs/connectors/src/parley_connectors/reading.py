"""What a family's read side needs and gives, so it can live next to its client.

Ingest owns connections, their storage and the sync loop; a family's reader only
needs to see one connection (:class:`ConnectionInfo`, which ingest's ``Connection``
satisfies as it is) and, for families whose tokens rotate, somewhere to save them
(:class:`CredentialsRepository`). Ingest passes its adapters in; nothing here imports
a service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from parley_schemas import AttachmentRef, RawThreadSnapshot


class ConnectionInfo(Protocol):
    """One store's access to one marketplace instance, as a reader sees it."""

    @property
    def id(self) -> str: ...
    @property
    def store_id(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def marketplace(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def credentials(self) -> Mapping[str, str]: ...
    @property
    def options(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class MalformedThread:
    """A thread the marketplace sent in a shape we cannot read: dead-lettered, not fatal."""

    reason: str
    thread_id: str | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FetchedFile:
    name: str
    content_type: str
    content: bytes


class Reader(Protocol):
    """One marketplace family's read side, bound to one connection."""

    def changes_since(self, since: datetime) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        """Threads with activity at or after ``since``, oldest activity first."""
        ...

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        """One thread now, whatever the cursor (manual resync of a discussion)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class AttachmentSource(Protocol):
    """A reader whose marketplace serves attachment bytes (F4)."""

    async def fetch_attachment(self, attachment: AttachmentRef) -> FetchedFile: ...


class CredentialsRepository(Protocol):
    """Where a connection's encrypted credentials are read and written back (rotating
    OAuth tokens); ingest's connection repository."""

    async def get(self, connection_id: str) -> ConnectionInfo | None: ...

    async def save_credentials(self, connection_id: str, credentials: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class ReaderDeps:
    """What ingest lends a family's readers: ``credentials`` receives rotated tokens
    (None: tokens live in memory only, as in tests and one-off runs)."""

    credentials: CredentialsRepository | None = None
