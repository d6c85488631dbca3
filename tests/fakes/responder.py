"""In-memory fakes of the responder's ports (see parley_responder.ports)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from parley_responder.ports import Delivery, OrderDocumentRecord, PreparedReply
from parley_schemas import ReplyCommand


class FakeDeliveries:
    """:class:`~parley_responder.ports.DeliveryStore` in memory.

    Behaves as MongoDeliveryStore does (tests/contract/ports/test_delivery_store.py
    runs the same assertions on both): settling clears ``next_attempt_at``; ``sent``
    clears the error and the uncertainty; a kept preparation wins over a later one
    of the same or an earlier merchant retry.
    """

    def __init__(self) -> None:
        self.rows: dict[str, Delivery] = {}

    async def open(self, command: ReplyCommand) -> tuple[Delivery, bool]:
        if command.command_id in self.rows:
            return self.rows[command.command_id], False
        self.rows[command.command_id] = Delivery(command.command_id, "queued", 0)
        return self.rows[command.command_id], True

    async def begin_round(self, command: ReplyCommand) -> bool:
        row = self.rows.get(command.command_id)
        if row is None:
            return False
        if row.state in ("failed", "unknown") and row.retry == command.retry - 1:
            forget = (
                {"unsure_since": None, "known_ids": None, "sending_since": None}
                if row.state == "unknown"
                else {}
            )
            self.rows[command.command_id] = replace(
                row, state="queued", attempts=0, retry=command.retry, **forget
            )
            return True
        return row.retry == command.retry

    async def mark_sending(
        self, command_id: str, attempt: int, at: datetime, known_ids: frozenset[str] | None
    ) -> None:
        self.rows[command_id] = replace(
            self.rows[command_id],
            state="sending",
            attempts=attempt,
            sending_since=at,
            known_ids=known_ids,
            next_attempt_at=None,
        )

    async def mark_unknown(self, command_id: str, reason: str, unsure_since: datetime) -> Delivery:
        self.rows[command_id] = replace(
            self.rows[command_id],
            state="unknown",
            error=reason,
            unsure_since=unsure_since,
            next_attempt_at=None,
        )
        return self.rows[command_id]

    async def mark_sent(self, command_id: str, marketplace_message_id: str | None) -> Delivery:
        self.rows[command_id] = replace(
            self.rows[command_id],
            state="sent",
            marketplace_message_id=marketplace_message_id,
            error=None,
            unsure_since=None,
            next_attempt_at=None,
        )
        return self.rows[command_id]

    async def mark_failed(
        self, command_id: str, error: str, unsure_since: datetime | None = None
    ) -> Delivery:
        self.rows[command_id] = replace(
            self.rows[command_id],
            state="failed",
            error=error,
            unsure_since=unsure_since,
            next_attempt_at=None,
        )
        return self.rows[command_id]

    async def save_prepared(self, command_id: str, prepared: PreparedReply) -> PreparedReply:
        kept = self.rows[command_id].prepared
        if kept is not None and kept.retry >= prepared.retry:
            return kept
        self.rows[command_id] = replace(self.rows[command_id], prepared=prepared)
        return prepared

    async def mark_retrying(
        self,
        command_id: str,
        error: str,
        *,
        attempts: int,
        next_attempt_at: datetime | None,
        sending: bool,
    ) -> None:
        row = replace(
            self.rows[command_id], error=error, attempts=attempts, next_attempt_at=next_attempt_at
        )
        self.rows[command_id] = row if sending else replace(row, state="queued")

    async def mark_order_document(self, command_id: str, record: OrderDocumentRecord) -> Delivery:
        self.rows[command_id] = replace(self.rows[command_id], order_document=record)
        return self.rows[command_id]
