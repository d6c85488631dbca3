"""The responder's delivery life cycle, with in-memory fakes of its own ports."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.responder import FakeDeliveries
from support.waiting import eventually

from parley_connectors.errors import (
    BadRequest,
    MarketplaceUnavailable,
    PayloadError,
    RateLimited,
)
from parley_connectors.files import OutgoingFile
from parley_responder.domain.reconcile import ShopReply
from parley_responder.handlers import Responder, RetryPolicy
from parley_responder.ports import Destination
from parley_responder.scheduler import DeliveryScheduler
from parley_schemas import DeliveryResult, DeliveryState, Envelope, ParticipantRole, ReplyCommand

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DEST = Destination(family="mirakl", base_url="http://x", credentials={"api_key": "k"}, options={})


class FakeDestinations:
    def __init__(self, destination: Destination | None = DEST) -> None:
        self.destination = destination

    async def find(self, store_id: str, marketplace: str) -> Destination | None:
        return self.destination


@dataclass(frozen=True)
class Landed:
    """The marketplace keeps the message, then the answer is lost with ``fault``."""

    fault: Exception


class ScriptedMarketplace:
    """One thread at a marketplace: the shop's messages it holds, and each send answered
    with the next scripted outcome (an id: kept and acknowledged; an exception: nothing
    kept; :class:`Landed`: kept, then the fault). ``listing`` scripts the look-ups
    (an exception raises; anything else lists); ``can_list`` False is SMTP."""

    def __init__(
        self,
        *outcomes: Any,
        already: Sequence[str] = (),
        listing: Sequence[Any] = (),
        can_list: bool = True,
    ) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []
        self.attachments: list[list[str]] = []
        self.thread = [ShopReply(f"old-{i}", body, NOW) for i, body in enumerate(already)]
        self.listing = list(listing)
        self.can_list = can_list
        self.references: list[str] = []

    def keep(self, body: str, message_id: str | None = None) -> str:
        message_id = message_id or f"m-{len(self.thread) + 1}"
        self.thread.append(ShopReply(message_id, body, NOW))
        self.sent.append(body)
        return message_id

    async def send(
        self,
        destination: Destination,
        thread_id: str,
        body: str,
        to: list[ParticipantRole],
        attachments: Sequence[OutgoingFile] = (),
        *,
        reference: str = "",
    ) -> str | None:
        self.attachments.append([f.name for f in attachments])
        self.references.append(reference)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Landed):
            self.keep(body)
            raise outcome.fault
        if isinstance(outcome, Exception):
            raise outcome
        return self.keep(body, str(outcome))

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        if self.listing:
            scripted = self.listing.pop(0)
            if isinstance(scripted, Exception):
                raise scripted
        return list(self.thread) if self.can_list else None


class Results:
    def __init__(self) -> None:
        self.envelopes: list[Envelope[Any]] = []

    async def emit(self, envelope: Envelope[Any]) -> None:
        self.envelopes.append(envelope)

    @property
    def states(self) -> list[DeliveryState]:
        return [e.data.state for e in self.envelopes]

    @property
    def last(self) -> DeliveryResult:
        result: DeliveryResult = self.envelopes[-1].data
        return result


def command(body: str = "Votre colis part demain.") -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-abcdef01",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body=body,
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=NOW,
    )


def responder(
    marketplace: ScriptedMarketplace,
    deliveries: FakeDeliveries | None = None,
    destinations: FakeDestinations | None = None,
) -> tuple[Responder, Results, list[float]]:
    results = Results()
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    r = Responder(
        deliveries or FakeDeliveries(),
        destinations or FakeDestinations(),
        {"mirakl": marketplace},
        results,
        RetryPolicy(max_attempts=3, base_delay=1, max_delay=10),
        sleep=sleep,
        clock=lambda: NOW,
    )
    return r, results, delays


async def test_a_reply_is_queued_then_sent_with_the_marketplace_id() -> None:
    market = ScriptedMarketplace("m-42")
    r, results, _ = responder(market)
    await r.on_reply(command())
    assert market.sent == ["Votre colis part demain."]
    assert results.states == [DeliveryState.QUEUED, DeliveryState.SENT]
    assert results.last.marketplace_message_id == "m-42"


async def test_a_redelivered_command_is_not_sent_twice() -> None:
    market = ScriptedMarketplace("m-42")
    deliveries = FakeDeliveries()
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    await r.on_reply(command())
    assert market.sent == ["Votre colis part demain."]
    assert results.states == [DeliveryState.QUEUED, DeliveryState.SENT, DeliveryState.SENT]


async def test_after_a_crash_mid_send_the_marketplace_is_asked_before_sending_again() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.mark_sending("cmd-abcdef01", 1, NOW, frozenset())  # crash here
    market = ScriptedMarketplace()
    market.keep("Votre colis part demain.", "m-7")  # it had reached the marketplace
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert market.sent == ["Votre colis part demain."], "not sent a second time"
    assert results.last.state is DeliveryState.SENT
    assert results.last.marketplace_message_id == "m-7"


async def test_after_a_crash_before_the_marketplace_got_it_the_reply_is_sent() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.mark_sending("cmd-abcdef01", 1, NOW, frozenset())
    market = ScriptedMarketplace("m-8")
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert market.sent == ["Votre colis part demain."]
    assert results.last.attempts == 2


async def test_rate_limits_and_outages_are_retried_with_retry_after_honoured() -> None:
    market = ScriptedMarketplace(RateLimited(7.0), MarketplaceUnavailable("503"), "m-1")
    r, results, delays = responder(market)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.SENT
    assert results.last.attempts == 3
    assert delays[0] == 7.0
    assert 0 <= delays[1] <= 2


async def test_after_the_retry_budget_the_delivery_fails_with_the_reason() -> None:
    market = ScriptedMarketplace(*(MarketplaceUnavailable("HTTP 503") for _ in range(3)))
    r, results, _ = responder(market)
    await r.on_reply(command())
    # The last look found nothing of it: failed, not unknown.
    assert results.last.state is DeliveryState.FAILED
    assert not results.last.unconfirmed
    assert "gave up after 3 attempts" in (results.last.error or "")
    assert "503" in (results.last.error or "")


async def test_a_refusal_fails_at_once() -> None:
    market = ScriptedMarketplace(BadRequest("body too long"), "never")
    r, results, delays = responder(market)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.FAILED
    assert "body too long" in (results.last.error or "")
    assert delays == []


@pytest.mark.parametrize("body", ["<p>Bonjour</p>", "Bonjour<br/>"])
async def test_html_never_reaches_the_marketplace(body: str) -> None:
    market = ScriptedMarketplace("m-1")
    r, results, _ = responder(market)
    await r.on_reply(command(body))
    assert market.sent == []
    assert results.last.state is DeliveryState.FAILED
    assert "plain text" in (results.last.error or "")


async def test_without_a_connection_the_reply_fails_visibly() -> None:
    market = ScriptedMarketplace("m-1")
    r, results, _ = responder(market, destinations=FakeDestinations(None))
    await r.on_reply(command())
    assert market.sent == []
    assert "no active connection" in (results.last.error or "")


async def test_a_timed_out_send_that_landed_is_not_sent_again() -> None:
    market = ScriptedMarketplace(Landed(MarketplaceUnavailable("M12 timed out")))
    r, results, _ = responder(market)
    await r.on_reply(command())
    assert market.sent == ["Votre colis part demain."]
    assert results.last.state is DeliveryState.SENT
    assert results.last.marketplace_message_id == "m-1"


async def test_while_unsure_the_record_stays_sending_for_a_crash_to_reconcile() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(MarketplaceUnavailable("503"), RateLimited(1.0), "m-3")
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.SENT
    # The first (ambiguous) attempt's time was kept as the earliest possible send.
    assert deliveries.rows["cmd-abcdef01"].sending_since == NOW


# --- the merchant's retry of a failed delivery -------------------------------------


def merchant_retry(deliveries: FakeDeliveries, command_id: str = "cmd-abcdef01") -> int:
    """What the gateway does: failed → queued, attempts 0, retry raised."""
    row = deliveries.rows[command_id]
    assert row.state in ("failed", "unknown")
    decided = {"unsure_since": None, "known_ids": None} if row.state == "unknown" else {}
    deliveries.rows[command_id] = replace(
        row, state="queued", attempts=0, retry=row.retry + 1, **decided
    )
    return row.retry + 1


async def test_a_retried_refusal_is_sent_in_a_new_round_shown_queued_then_sent() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(BadRequest("thread closed"), "m-2")
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.FAILED
    retry = merchant_retry(deliveries)
    await r.on_reply(replace_retry(command(), retry))
    assert [(e.data.state, e.data.retry) for e in results.envelopes[-2:]] == [
        (DeliveryState.QUEUED, 1),
        (DeliveryState.SENT, 1),
    ]
    assert market.sent == ["Votre colis part demain."]


async def test_a_retry_after_a_failure_that_may_have_landed_looks_before_sending() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(*(MarketplaceUnavailable("HTTP 503") for _ in range(3)))
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert deliveries.rows["cmd-abcdef01"].unsure_since == NOW
    # The last timeout had in fact landed (the marketplace lists it late): the retry
    # finds it and sends nothing.
    market.keep("Votre colis part demain.", "m-landed")
    merchant_retry(deliveries)
    await r.on_reply(replace_retry(command(), 1))
    assert results.last.state is DeliveryState.SENT
    assert results.last.marketplace_message_id == "m-landed"
    assert market.sent == ["Votre colis part demain."]


async def test_the_original_command_redelivered_after_a_retry_sends_nothing_more() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(BadRequest("no"), "m-2")
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    merchant_retry(deliveries)
    await r.on_reply(replace_retry(command(), 1))
    await r.on_reply(command())  # Kafka redelivers the first record
    assert market.sent == ["Votre colis part demain."]
    assert (results.last.state, results.last.retry) == (DeliveryState.SENT, 1)


def replace_retry(cmd: ReplyCommand, retry: int) -> ReplyCommand:
    return cmd.model_copy(update={"retry": retry})


# --- delivery truth: "sent" only for a reply identified as this one ------------------

SAME = "Merci !"


def same_text_command(command_id: str) -> ReplyCommand:
    return command(SAME).model_copy(update={"command_id": command_id})


async def test_an_earlier_reply_with_the_same_text_is_no_proof_of_sending() -> None:
    # The merchant already answered "Merci !" in this thread; the second "Merci !" hits
    # a 500 that kept nothing. It must be sent again, not taken for the first one.
    market = ScriptedMarketplace("m-first", MarketplaceUnavailable("HTTP 500"), "m-second")
    r, results, _ = responder(market)
    await r.on_reply(same_text_command("cmd-first001"))
    await r.on_reply(same_text_command("cmd-second01"))
    assert market.sent == [SAME, SAME], "both replies reached the marketplace"
    assert results.last.state is DeliveryState.SENT
    assert results.last.marketplace_message_id == "m-second"


async def test_a_same_text_reply_that_landed_despite_the_fault_is_found_not_resent() -> None:
    market = ScriptedMarketplace(Landed(MarketplaceUnavailable("HTTP 500")), already=[SAME])
    r, results, _ = responder(market)
    await r.on_reply(same_text_command("cmd-second01"))
    assert market.sent == [SAME]
    assert results.last.state is DeliveryState.SENT
    assert results.last.marketplace_message_id == "m-2", "the new message, not the old one"


async def test_after_a_crash_two_new_messages_with_the_text_leave_it_unknown() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(same_text_command("cmd-second01"))
    await deliveries.mark_sending("cmd-second01", 1, NOW, frozenset())
    market = ScriptedMarketplace()
    market.keep(SAME, "m-a")  # ours, or the merchant's from the back office: can't tell
    market.keep(SAME, "m-b")
    r, results, _ = responder(market, deliveries)
    await r.on_reply(same_text_command("cmd-second01"))
    assert (results.last.state, results.last.unconfirmed) == (DeliveryState.FAILED, True)
    assert "cannot be told" in (results.last.error or "")
    assert len(market.sent) == 2, "nothing more sent"


async def test_a_record_without_the_threads_ids_and_a_same_text_match_is_unknown() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(same_text_command("cmd-legacy01"))
    await deliveries.mark_sending("cmd-legacy01", 1, NOW, None)
    market = ScriptedMarketplace(already=[SAME])
    r, results, _ = responder(market, deliveries)
    await r.on_reply(same_text_command("cmd-legacy01"))
    assert (results.last.state, results.last.unconfirmed) == (DeliveryState.FAILED, True)
    assert market.sent == []


@pytest.mark.parametrize(
    "fault", [MarketplaceUnavailable("HTTP 502"), RateLimited(3.0)], ids=["5xx", "429"]
)
async def test_a_failing_look_after_a_crash_is_retried_not_stranded(fault: Exception) -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.mark_sending("cmd-abcdef01", 1, NOW, frozenset())
    market = ScriptedMarketplace("m-9", listing=[fault])
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.SENT
    assert market.sent == ["Votre colis part demain."]


async def test_a_look_that_keeps_failing_ends_unknown_with_the_reason() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.mark_sending("cmd-abcdef01", 1, NOW, frozenset())
    market = ScriptedMarketplace(listing=[MarketplaceUnavailable("HTTP 503")] * 10)
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert (results.last.state, results.last.unconfirmed) == (DeliveryState.FAILED, True)
    assert "503" in (results.last.error or "")
    assert market.sent == []
    assert deliveries.rows["cmd-abcdef01"].state == "unknown"


async def test_a_marketplace_that_cannot_be_asked_leaves_an_ambiguous_send_unknown() -> None:
    # SMTP: a connection lost after DATA may or may not have queued the mail.
    market = ScriptedMarketplace(Landed(MarketplaceUnavailable("connection lost")), can_list=False)
    r, results, _ = responder(market)
    await r.on_reply(command())
    assert (results.last.state, results.last.unconfirmed) == (DeliveryState.FAILED, True)
    assert market.sent == ["Votre colis part demain."], "not sent again by itself"


async def test_unknown_is_not_resent_on_redelivery_but_a_merchant_retry_sends_it() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(
        Landed(MarketplaceUnavailable("connection lost")), "m-again", can_list=False
    )
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    await r.on_reply(command())  # Kafka redelivers: still unknown, nothing sent
    assert (results.last.state, results.last.unconfirmed) == (DeliveryState.FAILED, True)
    assert len(market.sent) == 1
    retry = merchant_retry(deliveries)  # the merchant decides it did not arrive
    await r.on_reply(replace_retry(command(), retry))
    assert results.last.state is DeliveryState.SENT
    assert len(market.sent) == 2
    # Every attempt carries the command id: the relay's Message-ID stays the same.
    assert set(market.references) == {"cmd-abcdef01"}


async def test_a_refusal_after_an_ambiguous_attempt_keeps_the_unsure_mark() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(MarketplaceUnavailable("HTTP 500"), BadRequest("thread closed"))
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.FAILED
    assert deliveries.rows["cmd-abcdef01"].unsure_since == NOW


async def test_an_unreadable_answer_to_a_send_is_ambiguous_and_reconciled() -> None:
    market = ScriptedMarketplace(Landed(PayloadError("M12 answer is not JSON")))
    r, results, _ = responder(market)
    await r.on_reply(command())
    assert market.sent == ["Votre colis part demain."], "found, not sent again"
    assert results.last.state is DeliveryState.SENT


# --- parking: attempts, next_attempt_at, Retry-After capped; per-connection delivery --


async def test_a_parked_reply_shows_its_attempts_and_when_it_is_tried_next() -> None:
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(RateLimited(7.0), "m-1")
    r, results, _ = responder(market, deliveries)
    await r.on_reply(command())
    parked = results.envelopes[-2].data
    assert (parked.state, parked.attempts) == (DeliveryState.QUEUED, 1)
    assert parked.next_attempt_at == NOW + timedelta(seconds=7)
    assert (results.last.state, results.last.attempts) == (DeliveryState.SENT, 2)
    assert results.last.next_attempt_at is None


async def test_attempts_count_every_pass_even_when_the_look_before_sending_faults() -> None:
    # The marketplace throttles every call, the listing before the send included.
    deliveries = FakeDeliveries()
    market = ScriptedMarketplace(listing=[RateLimited(2.0)] * 3)
    r, results, delays = responder(market, deliveries)
    await r.on_reply(command())
    assert results.last.state is DeliveryState.FAILED
    assert results.last.attempts == 3
    assert "gave up after 3 attempts" in (results.last.error or "")
    assert [e.data.attempts for e in results.envelopes] == [0, 1, 2, 3]
    assert delays == [2.0, 2.0]


async def test_a_retry_after_above_the_maximum_is_capped_and_shown() -> None:
    market = ScriptedMarketplace(RateLimited(7200.0), "m-1")
    results = Results()
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    deliveries = FakeDeliveries()
    r = Responder(
        deliveries,
        FakeDestinations(),
        {"mirakl": market},
        results,
        RetryPolicy(max_attempts=3, max_retry_after=900),
        sleep=sleep,
        clock=lambda: NOW,
    )
    await r.on_reply(command())
    assert delays == [900]
    assert results.envelopes[-2].data.next_attempt_at == NOW + timedelta(seconds=900)
    assert results.last.state is DeliveryState.SENT


async def test_a_reply_parked_before_a_restart_waits_until_its_next_attempt() -> None:
    deliveries = FakeDeliveries()
    await deliveries.open(command())
    await deliveries.mark_retrying(
        "cmd-abcdef01",
        "rate limited",
        attempts=1,
        next_attempt_at=NOW + timedelta(seconds=30),
        sending=False,
    )
    market = ScriptedMarketplace("m-1")
    r, results, delays = responder(market, deliveries)
    await r.on_reply(command())  # resumed from the queue after a restart
    assert delays == [30.0], "the Retry-After given before the restart is still honoured"
    assert (results.last.state, results.last.attempts) == (DeliveryState.SENT, 2)


class StoreDestinations:
    """Each store's connection is told apart by its base URL (the store id)."""

    async def find(self, store_id: str, marketplace: str) -> Destination | None:
        return replace(DEST, base_url=store_id)


class PerStore:
    """One marketplace family, each store's connection answering on its own."""

    def __init__(self, **markets: ScriptedMarketplace) -> None:
        self.markets = markets

    async def send(
        self,
        destination: Destination,
        thread_id: str,
        body: str,
        to: list[ParticipantRole],
        attachments: Sequence[OutgoingFile] = (),
        *,
        reference: str = "",
    ) -> str | None:
        market = self.markets[destination.base_url]
        return await market.send(destination, thread_id, body, to, attachments, reference=reference)

    async def shop_replies(
        self, destination: Destination, thread_id: str, since: datetime
    ) -> list[ShopReply] | None:
        return await self.markets[destination.base_url].shop_replies(destination, thread_id, since)


class Outbox:
    """The delivery queue over the fake delivery records."""

    def __init__(self, deliveries: FakeDeliveries) -> None:
        self.deliveries = deliveries
        self.items: dict[str, ReplyCommand] = {}

    async def add(self, command: ReplyCommand) -> bool:
        await self.deliveries.open(command)
        self.items[command.command_id] = command
        return True

    async def remove(self, command: ReplyCommand) -> None:
        self.items.pop(command.command_id, None)

    async def pending(self) -> list[ReplyCommand]:
        return list(self.items.values())

    async def claim(self, command_id: str, owner: str, now: datetime, until: datetime) -> bool:
        return command_id in self.items


async def test_a_throttled_store_is_parked_while_another_stores_reply_goes_out() -> None:
    deliveries = FakeDeliveries()
    a, b = ScriptedMarketplace(RateLimited(1200.0), "m-a"), ScriptedMarketplace("m-b")
    results = Results()
    retry_after_passed = asyncio.Event()

    async def wait(seconds: float) -> None:
        await retry_after_passed.wait()

    r = Responder(
        deliveries,
        StoreDestinations(),
        {"mirakl": PerStore(A=a, B=b)},
        results,
        RetryPolicy(max_attempts=3, max_retry_after=900),
        sleep=wait,
        clock=lambda: NOW,
    )
    scheduler = DeliveryScheduler(r, Outbox(deliveries))
    reply_a = command().model_copy(update={"command_id": "cmd-store-a1", "store_id": "A"})
    reply_b = command().model_copy(update={"command_id": "cmd-store-b1", "store_id": "B"})
    await scheduler.submit(reply_a)
    await scheduler.submit(reply_b)

    async def b_sent() -> bool:
        return "cmd-store-b1" in deliveries.rows and deliveries.rows["cmd-store-b1"].state == "sent"

    await eventually(b_sent, timeout=5, interval=0.001)
    # B is out while A is still parked until its (capped) Retry-After.
    assert b.sent == ["Votre colis part demain."] and a.sent == []
    parked = deliveries.rows["cmd-store-a1"]
    assert (parked.state, parked.attempts) == ("queued", 1)
    assert parked.next_attempt_at == NOW + timedelta(seconds=900)
    shown = [e.data for e in results.envelopes if e.data.command_id == "cmd-store-a1"]
    assert shown[-1].next_attempt_at == NOW + timedelta(seconds=900)

    retry_after_passed.set()
    await scheduler.wait_idle()
    assert a.sent == ["Votre colis part demain."]
    assert deliveries.rows["cmd-store-a1"].state == "sent"
