"""Contract: the responder's DeliveryStore, the same assertions on the fake and on MongoDB.

The unit tests drive the responder over :class:`fakes.responder.FakeDeliveries`;
this suite proves that fake behaves as :class:`MongoDeliveryStore` on the real
MongoDB-compatible server, so what the unit tests show holds in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.responder import FakeDeliveries
from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.domain.attachments import LinkedFile, ReplyFile
from parley_responder.ports import DeliveryStore, OrderDocumentRecord, PreparedReply
from parley_schemas import ParticipantRole, ReplyCommand

# Whole seconds: MongoDB keeps milliseconds, so the store answers what it was given.
AT = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
LATER = AT + timedelta(seconds=30)


@pytest.fixture(params=["fake", "mongo"])
def make_store(request: pytest.FixtureRequest) -> Callable[[], DeliveryStore]:
    """One store per test, of the kind the parameter names (the real one on FerretDB)."""
    if request.param == "fake":
        return FakeDeliveries
    db: AsyncDatabase[Any] = request.getfixturevalue("mongo_db")
    return lambda: MongoDeliveryStore(db)


@pytest.fixture
def store(make_store: Callable[[], DeliveryStore]) -> DeliveryStore:
    return make_store()


def command(command_id: str | None = None) -> ReplyCommand:
    return ReplyCommand(
        command_id=command_id or f"cmd-{uuid.uuid4().hex[:8]}",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body="Hello",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=AT,
    )


def prepared(body: str, retry: int = 0) -> PreparedReply:
    file = ReplyFile(file_id="f1", name="a.pdf", content_type="application/pdf", size=3)
    return PreparedReply(
        body=body, native=(file,), linked=(LinkedFile(file, "too large"),), retry=retry
    )


async def test_open_creates_a_queued_record_once(store: DeliveryStore) -> None:
    cmd = command()
    first, created = await store.open(cmd)
    assert created is True
    assert (first.command_id, first.state, first.attempts, first.retry) == (
        cmd.command_id,
        "queued",
        0,
        0,
    )
    assert first.prepared is None and first.next_attempt_at is None and first.error is None

    await store.mark_sending(cmd.command_id, 1, AT, frozenset({"m1"}))
    again, created_again = await store.open(cmd)
    assert created_again is False
    assert again.state == "sending" and again.attempts == 1  # left as it was


async def test_sending_records_the_attempt_and_what_the_thread_had(store: DeliveryStore) -> None:
    cmd = command()
    await store.open(cmd)
    await store.mark_retrying(
        cmd.command_id, "busy", attempts=1, next_attempt_at=LATER, sending=False
    )
    await store.mark_sending(cmd.command_id, 2, AT, frozenset({"m1", "m2"}))
    row, _ = await store.open(cmd)
    assert row.state == "sending" and row.attempts == 2
    assert row.sending_since == AT
    assert row.known_ids == frozenset({"m1", "m2"})
    assert row.next_attempt_at is None  # an attempt under way is not parked

    await store.mark_sending(cmd.command_id, 3, LATER, None)
    row, _ = await store.open(cmd)
    assert row.known_ids is None and row.attempts == 3


async def test_sent_clears_the_error_the_uncertainty_and_the_next_attempt(
    store: DeliveryStore,
) -> None:
    cmd = command()
    await store.open(cmd)
    await store.mark_sending(cmd.command_id, 1, AT, None)
    await store.mark_retrying(
        cmd.command_id, "timeout", attempts=1, next_attempt_at=LATER, sending=True
    )
    await store.mark_unknown(cmd.command_id, "may have landed", AT)
    sent = await store.mark_sent(cmd.command_id, "mp-42")
    assert sent.state == "sent" and sent.final
    assert sent.marketplace_message_id == "mp-42"
    assert sent.error is None and sent.unsure_since is None and sent.next_attempt_at is None
    assert sent.attempts == 1
    assert (await store.open(cmd))[0] == sent


async def test_sent_without_an_id(store: DeliveryStore) -> None:
    cmd = command()
    await store.open(cmd)
    sent = await store.mark_sent(cmd.command_id, None)
    assert sent.state == "sent" and sent.marketplace_message_id is None


async def test_failed_keeps_the_error_and_whether_it_may_have_landed(store: DeliveryStore) -> None:
    sure, unsure = command(), command()
    for cmd in (sure, unsure):
        await store.open(cmd)
        await store.mark_retrying(
            cmd.command_id, "busy", attempts=5, next_attempt_at=LATER, sending=False
        )
    failed = await store.mark_failed(sure.command_id, "refused")
    assert (failed.state, failed.error, failed.unsure_since, failed.next_attempt_at) == (
        "failed",
        "refused",
        None,
        None,
    )
    assert failed.attempts == 5 and failed.final
    maybe = await store.mark_failed(unsure.command_id, "timeout", unsure_since=AT)
    assert maybe.state == "failed" and maybe.unsure_since == AT
    assert (await store.open(unsure))[0] == maybe


async def test_unknown_is_final_and_says_since_when(store: DeliveryStore) -> None:
    cmd = command()
    await store.open(cmd)
    await store.mark_sending(cmd.command_id, 1, AT, frozenset())
    await store.mark_retrying(
        cmd.command_id, "502", attempts=1, next_attempt_at=LATER, sending=True
    )
    unknown = await store.mark_unknown(cmd.command_id, "cannot tell", LATER)
    assert (unknown.state, unknown.error, unknown.unsure_since, unknown.next_attempt_at) == (
        "unknown",
        "cannot tell",
        LATER,
        None,
    )
    assert unknown.final and unknown.attempts == 1 and unknown.known_ids == frozenset()


async def test_retrying_requeues_unless_an_attempt_may_have_landed(store: DeliveryStore) -> None:
    queued, sending = command(), command()
    for cmd in (queued, sending):
        await store.open(cmd)
        await store.mark_sending(cmd.command_id, 1, AT, None)
    await store.mark_retrying(
        queued.command_id, "429", attempts=1, next_attempt_at=LATER, sending=False
    )
    await store.mark_retrying(
        sending.command_id, "timeout", attempts=1, next_attempt_at=None, sending=True
    )

    row, _ = await store.open(queued)
    assert (row.state, row.error, row.attempts, row.next_attempt_at) == ("queued", "429", 1, LATER)
    assert not row.final
    row, _ = await store.open(sending)
    assert (row.state, row.error, row.next_attempt_at) == ("sending", "timeout", None)
    assert row.sending_since == AT  # kept for the reconciliation after a crash


async def test_the_first_preparation_of_a_retry_is_kept(store: DeliveryStore) -> None:
    cmd = command()
    await store.open(cmd)
    first = prepared("with link A")
    assert await store.save_prepared(cmd.command_id, first) == first
    assert await store.save_prepared(cmd.command_id, prepared("with link B")) == first
    assert (await store.open(cmd))[0].prepared == first

    # A later merchant retry prepares afresh; an older one never replaces it.
    second = prepared("retry 1", retry=1)
    assert await store.save_prepared(cmd.command_id, second) == second
    assert await store.save_prepared(cmd.command_id, prepared("stale", retry=0)) == second
    assert (await store.open(cmd))[0].prepared == second


async def test_records_are_independent(store: DeliveryStore) -> None:
    one, two = command(), command()
    await store.open(one)
    await store.open(two)
    await store.mark_sent(one.command_id, "mp-1")
    row, _ = await store.open(two)
    assert row.state == "queued" and row.marketplace_message_id is None


async def test_the_order_document_outcome_is_kept_and_read_back(store: DeliveryStore) -> None:
    """Issue 14: filing the invoice on the order is recorded with the delivery,
    ``uploading`` first, then its outcome; a re-opened record shows it."""
    cmd = command()
    fresh, _ = await store.open(cmd)
    assert fresh.order_document is None
    uploading = OrderDocumentRecord("uploading", "O-1", "f1", "FA-1.pdf")
    assert (await store.mark_order_document(cmd.command_id, uploading)).order_document == uploading
    await store.mark_sent(cmd.command_id, "m-1")
    failed = OrderDocumentRecord("failed", "O-1", "f1", "FA-1.pdf", "Unknown type")
    await store.mark_order_document(cmd.command_id, failed)
    again, created = await store.open(cmd)
    assert not created
    assert again.state == "sent"
    assert again.order_document == failed
    assert again.order_document is not None and again.order_document.settled
