"""In-memory fakes of the gateway's ports (see parley_gateway.ports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parley_gateway.ports import FailedDelivery
from parley_schemas import ReplyCommand


@dataclass
class InMemoryOutbox:
    """:class:`~parley_gateway.ports.DeliveryOutbox` in memory: command id → row.

    Behaves as MongoDeliveryOutbox does (tests/contract/ports/test_delivery_outbox.py
    runs the same assertions on both): only a failed or unknown delivery of that
    discussion with its command kept is queued again, with a fresh attempt count;
    an undo applies only while the round is still queued and untouched.
    """

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

    async def requeue_failed(self, discussion_id: str, command_id: str) -> FailedDelivery | None:
        row = self.rows.get(command_id)
        if row is None or row["discussion_id"] != discussion_id or row["command"] is None:
            return None
        if row["state"] not in ("failed", "unknown"):
            return None
        left = row["state"]
        row.update(state="queued", attempts=0, retry=row["retry"] + 1)
        command = row["command"].model_copy(update={"retry": row["retry"]})
        return FailedDelivery(command, row["retry"], row["error"], left)

    async def undo_requeue(
        self, command_id: str, retry: int, error: str | None, state: str = "failed"
    ) -> None:
        row = self.rows.get(command_id)
        if row and row["state"] == "queued" and row["retry"] == retry and row["attempts"] == 0:
            row.update(state=state, error=error)

    async def state_of(self, discussion_id: str, command_id: str) -> str | None:
        row = self.rows.get(command_id)
        return str(row["state"]) if row and row["discussion_id"] == discussion_id else None
