"""What the service layer needs from the outside world; adapters/ implements it."""

from __future__ import annotations

from typing import Protocol

from parley_gateway.domain import DiscussionFilters, Position, Scope, StatusChange
from parley_schemas import Envelope, ReplyCommand
from parley_store import DiscussionDocument, MessageDocument


class CommandNotQueued(RuntimeError):
    """The command bus did not acknowledge the command in time."""


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

    async def get(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None: ...

    async def mark_read(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None:
        """Sets ``read`` and returns the discussion as it is after that write."""
        ...

    async def messages_of(self, discussion: DiscussionDocument) -> list[MessageDocument]:
        """Oldest first. Takes a document (from a scoped read), not a bare id, on purpose."""
        ...

    async def change_status(self, scope: Scope, discussion_id: str, change: StatusChange) -> bool:
        """Applies the change atomically; False when its condition did not hold."""
        ...

    async def ping(self) -> None:
        """Raises when the store does not answer."""
        ...


class CommandPublisher(Protocol):
    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        """Returns once the command is durably queued; raises CommandNotQueued otherwise."""
        ...
