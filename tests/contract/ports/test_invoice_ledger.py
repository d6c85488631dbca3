"""Contract: the invoicer's InvoiceLedger, the same assertions on the fake and on MongoDB.

The unit tests number invoices over :class:`InMemoryInvoiceLedger`; this suite proves
that fake behaves as :class:`MongoInvoiceLedger` on the real MongoDB-compatible server
(FerretDB v1 locally), so what the unit tests show about numbering holds there too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_invoicer.adapters.memory import InMemoryInvoiceLedger
from parley_invoicer.adapters.mongo import MongoInvoiceLedger
from parley_invoicer.ports import Claim, Intent, InvoiceLedger, InvoiceRecord

SERIES = "FR40303265045:FA:2026"
AT = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)  # whole seconds: MongoDB keeps milliseconds
REQUEST = {"order": {"order_id": "O1", "lines": [{"quantity": "1.5"}]}, "settings": {}}


@pytest.fixture(params=["fake", "mongo"])
def make_ledger(request: pytest.FixtureRequest) -> Callable[[], InvoiceLedger]:
    if request.param == "fake":
        return InMemoryInvoiceLedger
    db: AsyncDatabase[Any] = request.getfixturevalue("mongo_db")
    return lambda: MongoInvoiceLedger(db)


@pytest.fixture
def ledger(make_ledger: Callable[[], InvoiceLedger]) -> InvoiceLedger:
    return make_ledger()


def claim(sequence: int, order: str = "s:m:O1") -> Claim:
    return Claim(
        series_key=SERIES,
        sequence=sequence,
        number=f"FA-2026-{sequence:06d}",
        order_key=order,
        issue_date=date(2026, 5, 1),
        request=REQUEST,
        claimed_at=AT,
    )


async def test_a_new_series_starts_at_one_and_its_hint_only_goes_up(ledger: InvoiceLedger) -> None:
    assert await ledger.hint(SERIES) == 1

    await ledger.raise_hint(SERIES, 5)
    await ledger.raise_hint(SERIES, 3)

    assert await ledger.hint(SERIES) == 5
    assert await ledger.series_keys() == [SERIES]


async def test_a_number_is_claimed_once_even_by_concurrent_claimers(
    ledger: InvoiceLedger,
) -> None:
    won = await asyncio.gather(*(ledger.claim(claim(1, f"s:m:O{i}")) for i in range(10)))

    assert sorted(won) == [False] * 9 + [True]
    [kept] = await ledger.claims(SERIES)
    assert kept.order_key == f"s:m:O{won.index(True)}"
    assert (kept.number, kept.issue_date, kept.request, kept.claimed_at) == (
        "FA-2026-000001",
        date(2026, 5, 1),
        REQUEST,
        AT,
    )


async def test_claims_are_listed_by_sequence_with_their_void_reason(
    ledger: InvoiceLedger,
) -> None:
    for sequence in (3, 1, 2):
        assert await ledger.claim(claim(sequence, f"s:m:O{sequence}"))

    await ledger.void(SERIES, 2, "order s:m:O2 was invoiced as FA-2026-000001 meanwhile")

    claims = await ledger.claims(SERIES)
    assert [(c.sequence, c.voided) for c in claims] == [
        (1, None),
        (2, "order s:m:O2 was invoiced as FA-2026-000001 meanwhile"),
        (3, None),
    ]
    assert await ledger.claims("other:FA:2026") == []


async def test_the_first_binding_of_an_order_holds(ledger: InvoiceLedger) -> None:
    assert await ledger.find("s:m:O1") is None
    first = InvoiceRecord.of(claim(1))

    assert await ledger.bind(first) == first
    assert await ledger.bind(InvoiceRecord.of(claim(2))) == first
    assert await ledger.find("s:m:O1") == first


async def test_the_first_intent_on_an_order_holds(ledger: InvoiceLedger) -> None:
    ours = Intent("a", AT)

    assert await ledger.intend("s:m:O1", ours) == ours
    assert await ledger.intend("s:m:O1", Intent("b", AT)) == ours


async def test_an_intent_is_released_only_by_its_own_request(ledger: InvoiceLedger) -> None:
    await ledger.intend("s:m:O1", Intent("a", AT))

    await ledger.release("s:m:O1", "b")
    assert await ledger.intend("s:m:O1", Intent("c", AT)) == Intent("a", AT)
    await ledger.release("s:m:O1", "a")
    assert await ledger.intend("s:m:O1", Intent("c", AT)) == Intent("c", AT)


async def test_the_first_stored_pdf_is_kept_and_named_on_the_record(
    ledger: InvoiceLedger,
) -> None:
    await ledger.bind(InvoiceRecord.of(claim(1)))

    first = await ledger.save_pdf("s:m:O1", "FA-2026-000001", b"%PDF one")
    second = await ledger.save_pdf("s:m:O1", "FA-2026-000001", b"%PDF two")
    await ledger.mark_stored("s:m:O1", first.file_id)

    assert second == first
    assert first.content == b"%PDF one"
    assert await ledger.load_pdf(first.file_id) == b"%PDF one"
    record = await ledger.find("s:m:O1")
    assert record is not None and record.file_id == first.file_id
