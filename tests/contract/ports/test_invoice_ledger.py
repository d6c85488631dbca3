"""Contract: the invoicer's InvoiceLedger, the same assertions on the fake and on MongoDB.

The unit tests number invoices over :class:`InMemoryInvoiceLedger`; this suite proves
that fake behaves as :class:`MongoInvoiceLedger` on the real MongoDB-compatible server
(FerretDB v1 locally), so what the unit tests show about numbering holds there too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from parley_invoicer.adapters.memory import InMemoryInvoiceLedger, InMemorySettingsStore
from parley_invoicer.adapters.mongo import FILES, MongoInvoiceLedger, MongoSettingsStore
from parley_invoicer.ports import (
    Claim,
    DocumentQuery,
    Intent,
    InvoiceLedger,
    InvoiceRecord,
    SettingsStore,
)

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


async def test_concurrent_stores_of_one_pdf_keep_one_file(ledger: InvoiceLedger) -> None:
    stored = await asyncio.gather(
        *(ledger.save_pdf("s:m:O1", "FA-2026-000001", b"%PDF " + bytes([i])) for i in range(5))
    )

    assert len({s.file_id for s in stored}) == 1
    assert len({s.content for s in stored}) == 1
    assert await ledger.load_pdf(stored[0].file_id) == stored[0].content


async def test_a_pdf_larger_than_a_chunk_reads_back_whole(ledger: InvoiceLedger) -> None:
    pdf = b"%PDF" + bytes(range(256)) * 2100  # about 2 GridFS chunks

    stored = await ledger.save_pdf("s:m:O1", "FA-2026-000001", pdf)

    assert await ledger.load_pdf(stored.file_id) == pdf


async def test_an_unknown_file_is_a_lookup_error(ledger: InvoiceLedger) -> None:
    with pytest.raises(LookupError):
        await ledger.load_pdf("65f0c0ffee0000000000abcd")


def listed(order: str, discussion: str | None, kind: str = "invoice") -> dict[str, Any]:
    store, marketplace, order_id = order.split(":")
    return {
        "kind": kind,
        "order": {
            "store_id": store,
            "marketplace": marketplace,
            "order_id": order_id,
            "discussion_id": discussion,
        },
        "settings": {},
    }


async def test_documents_are_found_by_order_or_by_discussion_in_number_order(
    ledger: InvoiceLedger,
) -> None:
    records = [
        (3, "s:m:O1", listed("s:m:O1", "d1", kind="credit_note")),
        (1, "s:m:O1", listed("s:m:O1", "d1")),
        (2, "s:m:O2", listed("s:m:O2", "d2")),
    ]
    for sequence, key, request in records:
        bound = InvoiceRecord.of(claim(sequence, key))
        await ledger.bind(replace(bound, order_key=f"{key}#{sequence}", request=request))

    by_order = await ledger.documents(DocumentQuery(store_id="s", marketplace="m", order_id="O1"))
    by_discussion = await ledger.documents(DocumentQuery(discussion_id="d2"))

    assert [r.sequence for r in by_order] == [1, 3]
    assert [r.sequence for r in by_discussion] == [2]
    assert await ledger.documents(DocumentQuery(discussion_id="nope")) == []


@pytest.fixture(params=["fake", "mongo"])
def settings_store(request: pytest.FixtureRequest) -> SettingsStore:
    if request.param == "fake":
        return InMemorySettingsStore()
    return MongoSettingsStore(request.getfixturevalue("mongo_db"))


async def test_settings_are_kept_per_store_and_replaced(settings_store: SettingsStore) -> None:
    assert await settings_store.get("st1") is None

    await settings_store.put("st1", {"numbering_prefix": "FA"})
    await settings_store.put("st1", {"numbering_prefix": "FB"})
    await settings_store.put("st2", {"numbering_prefix": "X"})

    assert await settings_store.get("st1") == {"numbering_prefix": "FB"}
    assert await settings_store.get("st2") == {"numbering_prefix": "X"}


async def test_pdfs_stored_inline_before_the_gridfs_bucket_still_read(
    mongo_db: AsyncDatabase[Any],
) -> None:
    """Invoices issued before PDFs moved to GridFS kept their bytes in ``invoice_files``
    under the order's key; their records name that key as the file id."""
    await mongo_db[FILES].insert_one(
        {
            "_id": "s:m:O1",
            "number": "FA-2026-000001",
            "content_type": "application/pdf",
            "content": b"%PDF old",
        }
    )
    ledger = MongoInvoiceLedger(mongo_db)

    assert await ledger.load_pdf("s:m:O1") == b"%PDF old"
    kept = await ledger.save_pdf("s:m:O1", "FA-2026-000001", b"%PDF new")
    assert (kept.file_id, kept.content) == ("s:m:O1", b"%PDF old")
