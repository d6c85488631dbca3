"""Invoice numbers: gapless per series, one per order, never handed out twice.

The issuer runs over the in-memory ledger here; tests/contract/ports/test_invoice_ledger
shows the MongoDB ledger behaves as that fake on FerretDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from parley_invoicer.adapters.memory import InMemoryInvoiceLedger
from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.numbering import (
    MAX_SEQUENCE,
    InvoiceSeries,
    SeriesExhaustedError,
    audit,
    next_candidate,
    order_key,
)
from parley_invoicer.ports import Claim, Intent, InvoiceRecord
from parley_invoicer.service import InvoiceIssuer

SERIES = InvoiceSeries(seller_vat_id="FR40303265045", prefix="FA", year=2026)
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
MakeOrder = Callable[..., InvoiceRequest]


class Renderer:
    async def render_pdf(self, invoice: Invoice) -> bytes:
        await asyncio.sleep(0)  # let concurrent requests interleave
        return f"%PDF {invoice.number} {invoice.order.order_id}".encode()


def issuer(ledger: InMemoryInvoiceLedger, now: datetime = NOW) -> InvoiceIssuer:
    return InvoiceIssuer(ledger, Renderer(), clock=lambda: now, poll_seconds=0.001)


def fates(ledger: InMemoryInvoiceLedger, series_key: str = SERIES.key) -> list[str]:
    claims = {
        c.sequence: (c.order_key, c.voided)
        for c in ledger.claimed.values()
        if c.series_key == series_key
    }
    bindings = {k: r.sequence for k, r in ledger.records.items() if r.series_key == series_key}
    return [f.state for f in audit(claims, bindings)]


# ---------------------------------------------------------------- the pure domain
def test_numbers_are_formatted_prefix_year_and_six_digit_sequence() -> None:
    assert str(SERIES.number(123)) == "FA-2026-000123"
    assert SERIES.key == "FR40303265045:FA:2026"
    assert SERIES.number(7).claim_id == "FR40303265045:FA:2026:7"


def test_a_full_series_is_refused_rather_than_wrapped_or_widened() -> None:
    assert str(SERIES.number(MAX_SEQUENCE)) == "FA-2026-999999"
    with pytest.raises(SeriesExhaustedError):
        SERIES.number(MAX_SEQUENCE + 1)


def test_a_taken_number_moves_on_to_the_next_or_to_the_hint_if_ahead() -> None:
    assert next_candidate(4, 1) == 5
    assert next_candidate(4, 9) == 9


def test_the_order_key_names_store_marketplace_and_order() -> None:
    assert order_key("s1", "allegro", "A:1") == "s1:allegro:A:1"


def test_audit_says_what_became_of_every_number() -> None:
    claims = {1: ("o1", None), 2: ("o2", None), 3: ("o1", "order o1 is FA-1"), 4: ("o3", None)}

    result = audit(claims, {"o1": 1, "o2": 2})

    assert [(f.sequence, f.state) for f in result] == [
        (1, "issued"),
        (2, "issued"),
        (3, "voided"),
        (4, "in_flight"),
    ]


# ---------------------------------------------------------------- the issuer
async def test_numbers_increase_strictly_one_by_one(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()

    numbers = [
        (await issuer(ledger).issue(make_order(order_id=f"O{i}"), settings)).number
        for i in range(3)
    ]

    assert numbers == ["FA-2026-000001", "FA-2026-000002", "FA-2026-000003"]


async def test_the_same_order_asked_again_gets_the_same_number_and_bytes(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    first = await issuer(ledger).issue(make_order(), settings)

    again = await issuer(ledger, NOW + timedelta(days=40)).issue(make_order(), settings)

    assert (again.number, again.pdf, again.file_id) == (first.number, first.pdf, first.file_id)
    assert first.created and not again.created
    assert len(ledger.claimed) == 1


async def test_the_same_order_id_in_another_store_is_another_invoice(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()

    one = await issuer(ledger).issue(make_order(store_id="a"), settings)
    two = await issuer(ledger).issue(make_order(store_id="b"), settings)

    assert (one.number, two.number) == ("FA-2026-000001", "FA-2026-000002")


async def test_concurrent_requests_are_gapless_and_one_number_per_order(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    orders = [make_order(order_id=f"O{i % 50}") for i in range(200)]  # each order 4 times

    issued = await asyncio.gather(*(issuer(ledger).issue(o, settings) for o in orders))

    by_order: dict[str, set[str]] = {}
    for order, invoice in zip(orders, issued, strict=True):
        by_order.setdefault(order.order_id, set()).add(invoice.number)
    assert all(len(numbers) == 1 for numbers in by_order.values())
    assert sorted({n for ns in by_order.values() for n in ns}) == [
        f"FA-2026-{i:06d}" for i in range(1, 51)
    ]
    assert fates(ledger) == ["issued"] * 50  # the intents spared every void
    assert sum(invoice.created for invoice in issued) == 50  # one 201 per order


async def test_a_lagging_hint_costs_retries_not_numbers(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    for i in range(3):
        await issuer(ledger).issue(make_order(order_id=f"O{i}"), settings)
    ledger.hints[SERIES.key] = 1  # as a lost $max on FerretDB would leave it

    issued = await issuer(ledger).issue(make_order(order_id="O9"), settings)

    assert issued.number == "FA-2026-000004"


async def test_series_are_independent_per_seller_prefix_and_year(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    other_seller = settings.model_copy(
        update={"seller": settings.seller.model_copy(update={"vat_id": "PL5260250995"})}
    )
    other_prefix = settings.model_copy(update={"numbering_prefix": "AV"})

    await issuer(ledger).issue(make_order(order_id="a"), settings)
    await issuer(ledger).issue(make_order(order_id="b"), settings)

    assert (await issuer(ledger).issue(make_order(order_id="c"), other_seller)).number == (
        "FA-2026-000001"
    )
    assert (
        await issuer(ledger, NOW.replace(year=2027)).issue(make_order(order_id="d"), settings)
    ).number == "FA-2027-000001"
    assert (await issuer(ledger).issue(make_order(order_id="e"), other_prefix)).number == (
        "AV-2026-000001"
    )
    assert (await issuer(ledger).issue(make_order(order_id="f"), settings)).number == (
        "FA-2026-000003"
    )


async def test_a_full_series_refuses_the_order_and_spends_nothing(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    ledger.hints[SERIES.key] = MAX_SEQUENCE + 1

    with pytest.raises(SeriesExhaustedError):
        await issuer(ledger).issue(make_order(), settings)
    assert ledger.claimed == {}
    assert ledger.intents == {}  # a retry with a new prefix does not wait for this one


def _orphan_claim(sequence: int, key: str, request: dict[str, object]) -> Claim:
    """A claim whose process died before binding it."""
    return Claim(
        series_key=SERIES.key,
        sequence=sequence,
        number=str(SERIES.number(sequence)),
        order_key=key,
        issue_date=date(2026, 3, 12),
        request=request,
        claimed_at=NOW - timedelta(minutes=5),
    )


def _request(order: InvoiceRequest, settings: InvoiceSettings) -> dict[str, object]:
    return {"order": order.model_dump(mode="json"), "settings": settings.model_dump(mode="json")}


async def test_the_sweep_binds_an_orphan_claim_to_its_order(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    order = make_order()
    key = order_key(order.store_id, order.marketplace, order.order_id)
    await ledger.claim(_orphan_claim(1, key, _request(order, settings)))
    await ledger.raise_hint(SERIES.key, 2)

    assert await issuer(ledger).sweep() == 1
    issued = await issuer(ledger).issue(order, settings)  # rendered from the bound claim

    assert issued.number == "FA-2026-000001"
    assert fates(ledger) == ["issued"]


async def test_an_orphan_claim_of_an_order_numbered_since_is_voided_with_a_reason(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    order = make_order()
    key = order_key(order.store_id, order.marketplace, order.order_id)
    await ledger.claim(_orphan_claim(1, key, _request(order, settings)))
    # The orphan's hint was never raised; the order's next request (its intent stale)
    # claims number 2 after meeting 1 taken.
    await issuer(ledger).issue(order, settings)

    assert await issuer(ledger).sweep() == 1

    assert fates(ledger) == ["voided", "issued"]
    assert ledger.claimed[SERIES.number(1).claim_id].voided == (
        f"order {key} was invoiced as FA-2026-000002 meanwhile"
    )
    assert await issuer(ledger).sweep() == 0  # resolved for good


async def test_a_request_waits_for_the_one_already_numbering_its_order(
    make_order: MakeOrder, settings: InvoiceSettings
) -> None:
    ledger = InMemoryInvoiceLedger()
    order = make_order()
    key = order_key(order.store_id, order.marketplace, order.order_id)

    await ledger.intend(key, Intent("someone-else", NOW))
    waiting = asyncio.create_task(issuer(ledger).issue(order, settings))
    await asyncio.sleep(0.01)
    assert not waiting.done() and ledger.claimed == {}
    claim = _orphan_claim(1, key, _request(order, settings))
    await ledger.claim(claim)
    await ledger.bind(InvoiceRecord.of(claim))

    assert (await waiting).number == "FA-2026-000001"
    assert len(ledger.claimed) == 1
