"""What the responder's handler needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from parley_schemas import DeliveryState, Envelope, ParticipantRole, ReplyCommand


@dataclass(frozen=True)
class Delivery:
    """The durable record of one reply (the outbox row), keyed by command id."""

    command_id: str
    state: str  # queued | sending | sent | failed
    attempts: int
    marketplace_message_id: str | None = None
    error: str | None = None
    sending_since: datetime | None = None

    @property
    def final(self) -> bool:
        return self.state in (DeliveryState.SENT.value, DeliveryState.FAILED.value)


class DeliveryStore(Protocol):
    async def open(self, command: ReplyCommand) -> tuple[Delivery, bool]:
        """Returns the record, creating it as queued; the flag says it was created now."""

    async def mark_sending(self, command_id: str, attempt: int, at: datetime) -> None: ...

    async def mark_sent(self, command_id: str, marketplace_message_id: str | None) -> Delivery: ...

    async def mark_failed(self, command_id: str, error: str) -> Delivery: ...

    async def mark_retrying(self, command_id: str, error: str) -> None: ...


@dataclass(frozen=True)
class Destination:
    """Where a reply goes: the connection of the discussion's store and marketplace."""

    family: str
    base_url: str
    credentials: dict[str, str]
    options: dict[str, str]
    connection_id: str | None = None  # where rotated credentials (OAuth) are saved back


class DestinationLookup(Protocol):
    async def find(self, store_id: str, marketplace: str) -> Destination | None: ...


class MarketplaceReplies(Protocol):
    """A marketplace family's write side."""

    async def send(
        self, destination: Destination, thread_id: str, body: str, to: list[ParticipantRole]
    ) -> str | None:
        """Sends; returns the marketplace's message id when it tells one."""

    async def find_sent(
        self, destination: Destination, thread_id: str, body: str, since: datetime
    ) -> str | None:
        """After a crash mid-send: the id of our reply if the marketplace has it, else None."""


class ResultSink(Protocol):
    async def emit(self, envelope: Envelope[Any]) -> None: ...
