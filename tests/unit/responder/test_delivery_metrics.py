"""parley_deliveries and parley_autoresponses: counted where an outcome is decided, by
marketplace family, and never again when a settled reply is only announced again."""

from __future__ import annotations

from fakes.responder import FakeDeliveries
from unit.responder.test_responder import (
    NOW,
    FakeDestinations,
    ScriptedMarketplace,
    command,
    responder,
)

from parley_connectors.errors import BadRequest, MarketplaceUnavailable, RateLimited
from parley_platform.metrics import REGISTRY


def deliveries(outcome: str, family: str = "mirakl") -> float:
    value = REGISTRY.get_sample_value(
        "parley_deliveries_total", {"family": family, "outcome": outcome}
    )
    return value or 0.0


def snapshot() -> dict[str, float]:
    return {o: deliveries(o) for o in ("sent", "failed", "unknown", "retried")}


def moved(before: dict[str, float]) -> dict[str, float]:
    return {o: deliveries(o) - before[o] for o in before if deliveries(o) != before[o]}


async def test_a_sent_reply_counts_once_even_when_redelivered() -> None:
    before = snapshot()
    r, _, _ = responder(ScriptedMarketplace("m-42"), FakeDeliveries())
    await r.on_reply(command())
    await r.on_reply(command())  # redelivered: announced again, not sent again
    assert moved(before) == {"sent": 1}


async def test_each_parked_retry_counts_then_the_send() -> None:
    before = snapshot()
    market = ScriptedMarketplace(RateLimited(1.0), MarketplaceUnavailable("503"), "m-1")
    r, _, _ = responder(market)
    await r.on_reply(command())
    assert moved(before) == {"retried": 2, "sent": 1}


async def test_a_refusal_counts_failed() -> None:
    before = snapshot()
    r, _, _ = responder(ScriptedMarketplace(BadRequest("body too long")))
    await r.on_reply(command())
    assert moved(before) == {"failed": 1}


async def test_an_undecidable_delivery_counts_unknown() -> None:
    before = snapshot()
    store = FakeDeliveries()
    await store.open(command())
    await store.mark_sending("cmd-abcdef01", 1, NOW, frozenset())
    market = ScriptedMarketplace(listing=[MarketplaceUnavailable("HTTP 503")] * 10)
    r, _, _ = responder(market, store)
    await r.on_reply(command())
    # The failing looks were parked and retried too, within the budget.
    assert moved(before) == {"retried": 2, "unknown": 1}


async def test_a_reply_without_a_connection_fails_under_no_family() -> None:
    before = deliveries("failed", family="none")
    r, _, _ = responder(ScriptedMarketplace("m-1"), destinations=FakeDestinations(None))
    await r.on_reply(command())
    assert deliveries("failed", family="none") == before + 1
