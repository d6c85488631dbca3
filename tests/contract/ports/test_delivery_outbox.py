"""Contract: the gateway's DeliveryOutbox, the same assertions on the fake and on MongoDB.

The gateway's one move on a delivery record is the merchant's retry (failed|unknown →
queued) and its undo. The real records are written here by the responder's own
adapter (MongoDeliveryStore), as in production; the fake holds the same states.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from fakes.gateway import InMemoryOutbox
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.adapters.mongo_outbox import MongoDeliveryOutbox
from parley_gateway.ports import DeliveryOutbox
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_schemas import ParticipantRole, ReplyCommand
from parley_store import DELIVERIES

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Records(Protocol):
    """Puts delivery records in the states the responder leaves them in."""

    outbox: DeliveryOutbox

    async def hold(self, command: ReplyCommand, state: str, error: str | None) -> None: ...

    async def forget_command(self, command_id: str) -> None:
        """As a record written before commands were kept."""

    async def take(self, command_id: str) -> None:
        """The responder starts an attempt on the queued round."""


class FakeRecords:
    def __init__(self) -> None:
        self.outbox = InMemoryOutbox()

    async def hold(self, command: ReplyCommand, state: str, error: str | None) -> None:
        self.outbox.hold(command, state, error)

    async def forget_command(self, command_id: str) -> None:
        self.outbox.rows[command_id]["command"] = None

    async def take(self, command_id: str) -> None:
        self.outbox.rows[command_id].update(state="sending", attempts=1)


class MongoRecords:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.outbox = MongoDeliveryOutbox(db)
        self.store = MongoDeliveryStore(db)

    async def hold(self, command: ReplyCommand, state: str, error: str | None) -> None:
        await self.store.open(command)
        if state == "queued":
            return
        await self.store.mark_sending(command.command_id, 1, AT, None)
        if state == "failed":
            await self.store.mark_failed(command.command_id, error or "", AT)
        elif state == "unknown":
            await self.store.mark_unknown(command.command_id, error or "", AT)
        elif state == "sent":
            await self.store.mark_sent(command.command_id, "mp-1")

    async def forget_command(self, command_id: str) -> None:
        await self.db[DELIVERIES].update_one({"_id": command_id}, {"$set": {"command": None}})

    async def take(self, command_id: str) -> None:
        await self.store.mark_sending(command_id, 1, AT, None)


@pytest.fixture(params=["fake", "mongo"])
def records(request: pytest.FixtureRequest) -> Records:
    if request.param == "fake":
        return FakeRecords()
    return MongoRecords(request.getfixturevalue("mongo_db"))


def command(discussion_id: str = "d1") -> ReplyCommand:
    return ReplyCommand(
        command_id=f"cmd-{uuid.uuid4().hex[:8]}",
        discussion_id=discussion_id,
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body="Hello",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=AT,
    )


@pytest.mark.parametrize("state", ["failed", "unknown"])
async def test_a_failed_or_unknown_delivery_is_queued_again_once(
    records: Records, state: str
) -> None:
    cmd = command()
    await records.hold(cmd, state, "503")
    requeued = await records.outbox.requeue_failed("d1", cmd.command_id)
    assert requeued is not None
    assert (requeued.retry, requeued.error, requeued.state) == (1, "503", state)
    assert requeued.command.command_id == cmd.command_id and requeued.command.retry == 1
    assert requeued.command.body == cmd.body
    assert await records.outbox.state_of("d1", cmd.command_id) == "queued"
    # Of two retries, one wins.
    assert await records.outbox.requeue_failed("d1", cmd.command_id) is None


@pytest.mark.parametrize("state", ["queued", "sending", "sent"])
async def test_nothing_else_is_queued_again(records: Records, state: str) -> None:
    cmd = command()
    await records.hold(cmd, state, None)
    if state == "sending":
        await records.take(cmd.command_id)
    assert await records.outbox.requeue_failed("d1", cmd.command_id) is None
    assert await records.outbox.state_of("d1", cmd.command_id) == state


async def test_only_the_discussion_s_own_delivery_with_its_command_kept(
    records: Records,
) -> None:
    cmd, old = command(), command()
    await records.hold(cmd, "failed", "503")
    assert await records.outbox.requeue_failed("other", cmd.command_id) is None
    assert await records.outbox.state_of("other", cmd.command_id) is None
    assert await records.outbox.requeue_failed("d1", "cmd-missing") is None
    assert await records.outbox.state_of("d1", "cmd-missing") is None
    assert await records.outbox.state_of("d1", cmd.command_id) == "failed"

    await records.hold(old, "failed", "503")
    await records.forget_command(old.command_id)
    assert await records.outbox.requeue_failed("d1", old.command_id) is None
    assert await records.outbox.state_of("d1", old.command_id) == "failed"


@pytest.mark.parametrize("state", ["failed", "unknown"])
async def test_an_undo_puts_the_state_and_error_back(records: Records, state: str) -> None:
    cmd = command()
    await records.hold(cmd, state, "503")
    requeued = await records.outbox.requeue_failed("d1", cmd.command_id)
    assert requeued is not None
    await records.outbox.undo_requeue(cmd.command_id, requeued.retry, "503", requeued.state)
    assert await records.outbox.state_of("d1", cmd.command_id) == state
    # Retryable again, in the next round.
    again = await records.outbox.requeue_failed("d1", cmd.command_id)
    assert again is not None and again.retry == 2


async def test_an_undo_never_touches_a_round_under_way_or_another_round(
    records: Records,
) -> None:
    cmd = command()
    await records.hold(cmd, "failed", "503")
    requeued = await records.outbox.requeue_failed("d1", cmd.command_id)
    assert requeued is not None
    await records.outbox.undo_requeue(cmd.command_id, requeued.retry + 1, "503")
    assert await records.outbox.state_of("d1", cmd.command_id) == "queued"  # not its round

    await records.take(cmd.command_id)
    await records.outbox.undo_requeue(cmd.command_id, requeued.retry, "503")
    assert await records.outbox.state_of("d1", cmd.command_id) == "sending"
    await records.outbox.undo_requeue("cmd-missing", 1, "503")  # nothing to undo: no error
