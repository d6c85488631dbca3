"""Invoice numbers only ever go up within a series, and are never handed out twice."""

from __future__ import annotations

import asyncio
import threading

import pytest

from parley_invoicer.numbering import (
    MAX_SEQUENCE,
    InMemoryInvoiceNumberAllocator,
    InvoiceNumber,
    InvoiceSeries,
    SeriesExhaustedError,
)

SERIES = InvoiceSeries(seller_vat_id="FR40303265045", prefix="FA", year=2026)


async def test_numbers_are_formatted_prefix_year_and_six_digit_sequence() -> None:
    number = await InMemoryInvoiceNumberAllocator().allocate(SERIES)

    assert str(number) == "FA-2026-000001"


async def test_numbers_increase_strictly_one_by_one() -> None:
    allocator = InMemoryInvoiceNumberAllocator()

    numbers = [str(await allocator.allocate(SERIES)) for _ in range(3)]

    assert numbers == ["FA-2026-000001", "FA-2026-000002", "FA-2026-000003"]


async def test_concurrent_requests_never_share_a_number() -> None:
    allocator = InMemoryInvoiceNumberAllocator()

    numbers = await asyncio.gather(*(allocator.allocate(SERIES) for _ in range(200)))

    assert sorted(n.sequence for n in numbers) == list(range(1, 201))


def test_threads_never_share_a_number() -> None:
    allocator = InMemoryInvoiceNumberAllocator()
    drawn: list[InvoiceNumber] = []
    lock = threading.Lock()

    def draw() -> None:
        for _ in range(100):
            number = asyncio.run(allocator.allocate(SERIES))
            with lock:
                drawn.append(number)

    workers = [threading.Thread(target=draw) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(n.sequence for n in drawn) == list(range(1, 801))


async def test_series_are_independent_per_seller_prefix_and_year() -> None:
    allocator = InMemoryInvoiceNumberAllocator()
    other_seller = InvoiceSeries("PL5260250995", "FA", 2026)
    next_year = InvoiceSeries(SERIES.seller_vat_id, "FA", 2027)
    other_prefix = InvoiceSeries(SERIES.seller_vat_id, "AV", 2026)

    await allocator.allocate(SERIES)
    await allocator.allocate(SERIES)

    assert str(await allocator.allocate(other_seller)) == "FA-2026-000001"
    assert str(await allocator.allocate(next_year)) == "FA-2027-000001"
    assert str(await allocator.allocate(other_prefix)) == "AV-2026-000001"
    assert str(await allocator.allocate(SERIES)) == "FA-2026-000003"


async def test_a_full_series_is_refused_rather_than_wrapped_or_widened() -> None:
    allocator = InMemoryInvoiceNumberAllocator()
    allocator._last[SERIES] = MAX_SEQUENCE - 1

    assert str(await allocator.allocate(SERIES)) == "FA-2026-999999"
    with pytest.raises(SeriesExhaustedError):
        await allocator.allocate(SERIES)
    with pytest.raises(SeriesExhaustedError):
        await allocator.allocate(SERIES)
