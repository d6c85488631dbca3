"""Contract: a merchant retry's round change, the same assertions on the fakes and on
MongoDB (FerretDB).

The responder owns the delivery records; the gateway reads them
(:class:`~parley_gateway.ports.DeliveryRecords`) and asks for a retry with the same
command, ``retry`` raised. The responder's :meth:`begin_round` then moves the record
from failed|unknown in the round before, and from nothing else.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from fakes.gateway import InMemoryDeliveryRecords
from fakes.responder import FakeDeliveries
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.adapters.mongo_delivery_records import MongoDeliveryRecords
from parley_gateway.ports import DeliveryRecords
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.ports import DeliveryStore
from parley_schemas import ParticipantRole, ReplyCommand
from parley_store import DELIVERIES

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Records(Protocol):
    store: DeliveryStore  # the responder's
    reader: DeliveryRecords  # the gateway's

    async def hold(self, command: ReplyCommand, state: str) -> None: ...

    async def forget_command(self, command_id: str) -> None: ...


class FakeRecords:
    """The responder's fake store, read through the gateway's fake reader."""

    def __init__(self) -> None:
        self.store = FakeDeliveries()
        self.reader = InMemoryDeliveryRecords()
        self._commands: dict[str, ReplyCommand | None] = {}

    async def hold(self, command: ReplyCommand, state: str) -> None:
        await _hold(self.store, command, state)
        self._commands[command.command_id] = command

    async def forget_command(self, command_id: str) -> None:
        self._commands[command_id] = None

    def sync(self) -> None:
        for command_id, row in self.store.rows.items():
            cmd = self._commands.get(command_id)
            self.reader.rows[command_id] = {
                "discussion_id": "d1",
                "state": row.state,
                "retry": row.retry,
                "attempts": row.attempts,
                "error": row.error,
                "command": cmd,
            }


class MongoRecords:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.store = MongoDeliveryStore(db)
        self.reader = MongoDeliveryRecords(db)

    async def hold(self, command: ReplyCommand, state: str) -> None:
        await _hold(self.store, command, state)

    async def forget_command(self, command_id: str) -> None:
        await self.db[DELIVERIES].update_one({"_id": command_id}, {"$set": {"command": None}})

    def sync(self) -> None:
        pass


async def _hold(store: DeliveryStore, command: ReplyCommand, state: str) -> None:
    """A record in ``state`` as the responder leaves it."""
    await store.open(command)
    if state == "queued":
        return
    await store.mark_sending(command.command_id, 1, AT, None)
    if state == "failed":
        await store.mark_failed(command.command_id, "503", AT)
    elif state == "unknown":
        await store.mark_unknown(command.command_id, "503", AT)
    elif state == "sent":
        await store.mark_sent(command.command_id, "mp-1")


@pytest.fixture(params=["fake", "mongo"])
def records(request: pytest.FixtureRequest) -> FakeRecords | MongoRecords:
    if request.param == "fake":
        return FakeRecords()
    return MongoRecords(request.getfixturevalue("mongo_db"))


def command(retry: int = 0) -> ReplyCommand:
    return ReplyCommand(
        command_id=f"cmd-{uuid.uuid4().hex[:8]}",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body="Hello",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=AT,
        retry=retry,
    )


@pytest.mark.parametrize("state", ["failed", "unknown"])
async def test_a_failed_or_unknown_delivery_starts_the_next_round_once(
    records: FakeRecords | MongoRecords, state: str
) -> None:
    cmd = command()
    await records.hold(cmd, state)
    records.sync()
    seen = await records.reader.find("d1", cmd.command_id)
    assert seen is not None and (seen.state, seen.retry) == (state, 0)
    assert seen.command is not None and seen.command.body == "Hello"

    again = cmd.model_copy(update={"retry": 1})
    assert await records.store.begin_round(again)
    delivery, created = await records.store.open(again)
    assert (delivery.state, delivery.retry, delivery.attempts, created) == ("queued", 1, 0, False)
    if state == "unknown":
        assert delivery.unsure_since is None, "the merchant decided it did not arrive"
    else:
        assert delivery.unsure_since == AT, "a failure that may have landed is looked for"
    # A repeat of the same request (a redelivery, a crash before it was queued) is in
    # its round: it may be queued again, and moves nothing.
    assert await records.store.begin_round(again)
    # A later round cannot start before this one failed; an older one is stale.
    assert not await records.store.begin_round(cmd.model_copy(update={"retry": 2}))
    records.sync()
    seen = await records.reader.find("d1", cmd.command_id)
    assert seen is not None and (seen.state, seen.retry) == ("queued", 1)


@pytest.mark.parametrize("state", ["queued", "sending", "sent"])
async def test_no_other_delivery_starts_a_round(
    records: FakeRecords | MongoRecords, state: str
) -> None:
    cmd = command()
    await records.hold(cmd, state)
    assert not await records.store.begin_round(cmd.model_copy(update={"retry": 1}))
    delivery, _ = await records.store.open(cmd)
    assert (delivery.state, delivery.retry) == (state, 0)


async def test_a_missing_delivery_starts_no_round_and_is_not_found(
    records: FakeRecords | MongoRecords,
) -> None:
    assert not await records.store.begin_round(command(retry=1))
    assert await records.reader.find("d1", "cmd-missing") is None


async def test_the_gateway_sees_only_the_discussion_s_own_delivery_and_a_forgotten_command(
    records: FakeRecords | MongoRecords,
) -> None:
    cmd = command()
    await records.hold(cmd, "failed")
    await records.forget_command(cmd.command_id)
    records.sync()
    assert await records.reader.find("other", cmd.command_id) is None
    seen = await records.reader.find("d1", cmd.command_id)
    assert seen is not None and seen.state == "failed" and seen.command is None
