"""Retry or dead-letter, by the class of a handler's error (parley_platform.streams).

The stream is fed records shaped like Faust events and a fake dead-letter sink (the
platform's own port). A transient error — infrastructure, or a dependency the caller
names (a marketplace or SMTP relay that is down or rate-limits us) — is retried until
the handler succeeds, however many tries that takes, and never dead-lettered; an
unprocessable record is dead-lettered at once; a bug after the retry budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import BaseModel
from pymongo.errors import ServerSelectionTimeoutError

from parley_connectors.errors import (
    AuthenticationFailed,
    MarketplaceUnavailable,
    RateLimited,
)
from parley_platform.streams import (
    Failure,
    RetryPolicy,
    Unprocessable,
    classify,
    consume_envelopes,
)
from parley_schemas import (
    CONVERSATION_COMMANDS,
    REPLY_REQUESTED,
    Envelope,
    ParticipantRole,
    ReplyCommand,
)

TOPIC = "test.conversation.commands.v1"
RESPONDER_TRANSIENT = (MarketplaceUnavailable, RateLimited)


@dataclass
class Message:
    topic: str = TOPIC
    partition: int = 0
    offset: int = 7
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Event:
    value: bytes
    key: bytes = b"k"
    message: Message = field(default_factory=Message)


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def dead_letter(self, stage: str, reason: str, **where: Any) -> None:
        self.reasons.append(reason)


class Flaky:
    """Fails with each scripted error in turn, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.done = False

    async def __call__(self, envelope: Envelope[Any]) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.done = True


def record() -> bytes:
    command = ReplyCommand(
        command_id="cmd-12345678",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body="Bonjour",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    return Envelope[ReplyCommand](
        source="/test", type=REPLY_REQUESTED.name, subject="s", data=command
    ).to_json_bytes()


async def run(handle: Flaky, dead: DeadLetters, attempts: int = 3) -> None:
    async def events() -> Any:
        yield Event(record())

    await consume_envelopes(
        events(),
        {TOPIC: CONVERSATION_COMMANDS},
        handle,
        dead,
        stage="test",
        policy=RetryPolicy(
            max_attempts=attempts,
            base_delay=0.0001,
            max_delay=0.001,
            transient=RESPONDER_TRANSIENT,
        ),
    )


def validation_error() -> Exception:
    class Strict(BaseModel):
        n: int

    try:
        Strict.model_validate({"n": "x"})
    except Exception as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ServerSelectionTimeoutError("mongo down"), Failure.TRANSIENT),
        (KafkaConnectionError("broker down"), Failure.TRANSIENT),
        (TimeoutError(), Failure.TRANSIENT),
        (ConnectionRefusedError(), Failure.TRANSIENT),
        (MarketplaceUnavailable("SMTP relay unreachable"), Failure.TRANSIENT),
        (RateLimited(20.0), Failure.TRANSIENT),
        (Unprocessable("unknown discussion"), Failure.UNPROCESSABLE),
        (validation_error(), Failure.UNPROCESSABLE),
        (AuthenticationFailed("401"), Failure.BUG),
        (KeyError("body"), Failure.BUG),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_error_class(error: BaseException, expected: Failure) -> None:
    assert classify(error, RESPONDER_TRANSIENT) is expected


def test_marketplace_errors_are_transient_only_where_the_caller_says_so() -> None:
    assert classify(MarketplaceUnavailable("down")) is Failure.BUG


@pytest.mark.parametrize(
    "error",
    [
        MarketplaceUnavailable("SMTP relay unreachable"),
        RateLimited(0.0),
        ServerSelectionTimeoutError("mongo down"),
        KafkaConnectionError("broker down"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_transient_error_is_retried_past_any_budget_and_never_dead_lettered(
    error: BaseException,
) -> None:
    # Far more failures than the budget of 3: the dependency was away for a long time.
    handle = Flaky(*([error] * 25))
    dead = DeadLetters()
    await run(handle, dead, attempts=3)
    assert handle.done and handle.calls == 26
    assert dead.reasons == []


@pytest.mark.parametrize(
    "error",
    [Unprocessable("no such discussion"), validation_error()],
    ids=["unprocessable", "validation"],
)
async def test_an_unprocessable_record_is_dead_lettered_at_once(error: BaseException) -> None:
    handle = Flaky(error, error)
    dead = DeadLetters()
    await run(handle, dead)
    assert handle.calls == 1
    assert len(dead.reasons) == 1 and dead.reasons[0].startswith("unprocessable")


async def test_a_bug_is_dead_lettered_after_the_retry_budget() -> None:
    handle = Flaky(*([KeyError("body")] * 10))
    dead = DeadLetters()
    await run(handle, dead, attempts=3)
    assert handle.calls == 3 and not handle.done
    assert len(dead.reasons) == 1 and "failed 3 times" in dead.reasons[0]


async def test_a_bug_that_goes_away_within_the_budget_is_processed() -> None:
    handle = Flaky(KeyError("x"), MarketplaceUnavailable("down"), KeyError("y"))
    dead = DeadLetters()
    await run(handle, dead, attempts=3)
    assert handle.done and dead.reasons == []
