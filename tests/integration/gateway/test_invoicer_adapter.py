"""The gateway's invoicer adapter (parley_gateway.adapters.http_invoicer) against a real
invoicer process on the real MongoDB-compatible server.

What the gateway relies on, over the wire: settings saved and read back (None when
never saved), one invoice per order (the same number, file id and bytes again, 200
the second time), the stored PDF fetched by id, the discussion's listing, a credit note
against the invoice, the invoicer's 422 kept whole (each pointer), and an invoicer that
is not there, or that accepts a connection and never answers, reported as unavailable
(the API's 503 + Retry-After) rather than hanging the request.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.gateway.invoicer_process import free_port, running_invoicer
from integration.test_invoicer_http import POLISH_ORDER
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.adapters.http_invoicer import HttpInvoicer
from parley_gateway.ports import InvoicerRefused, InvoicerUnavailable

pytestmark = pytest.mark.integration

DISCUSSION = "d0c5e1a7b2"


@pytest.fixture
def invoicer_url(mongo_db: AsyncDatabase[Any], tmp_path: Path) -> Iterator[str]:
    """``python -m parley_invoicer`` on a throw-away database, until the test ends."""
    with running_invoicer(mongo_db.name, tmp_path) as url:
        yield url


@pytest.fixture
async def invoicer(invoicer_url: str) -> AsyncIterator[HttpInvoicer]:
    adapter = HttpInvoicer(invoicer_url, timeout_seconds=30)
    try:
        yield adapter
    finally:
        await adapter.close()


def order() -> dict[str, Any]:
    placed: dict[str, Any] = copy.deepcopy(POLISH_ORDER["order"])
    placed["discussion_id"] = DISCUSSION
    return placed


async def test_settings_invoice_pdf_listing_and_credit_note_over_http(
    invoicer: HttpInvoicer,
) -> None:
    settings = POLISH_ORDER["settings"]
    assert await invoicer.get_settings("store-pl") is None
    saved = await invoicer.put_settings("store-pl", settings)
    assert saved["numbering_prefix"] == "FV"
    assert await invoicer.get_settings("store-pl") == saved

    first = await invoicer.issue_invoice(order())
    again = await invoicer.issue_invoice(order())
    assert first.created and not again.created
    assert (again.number, again.file_id, again.pdf) == (first.number, first.file_id, first.pdf)
    assert first.kind == "invoice"
    assert first.pdf.startswith(b"%PDF")
    assert await invoicer.pdf(first.file_id) == first.pdf

    credit = await invoicer.issue_credit_note(
        {
            "store_id": "store-pl",
            "marketplace": "allegro",
            "order_id": order()["order_id"],
            "refund_id": "R-1",
            "discussion_id": DISCUSSION,
        }
    )
    assert (credit.kind, credit.created) == ("credit_note", True)
    listed = await invoicer.documents_of(DISCUSSION)
    assert [(d["number"], d["kind"], d["file_id"]) for d in listed] == [
        (first.number, "invoice", first.file_id),
        (credit.number, "credit_note", credit.file_id),
    ]
    assert await invoicer.documents_of("another") == []


async def test_the_invoicers_refusals_are_kept_whole(invoicer: HttpInvoicer) -> None:
    # No settings saved for the store: the invoicer names #/settings.
    with pytest.raises(InvoicerRefused) as unsaved:
        await invoicer.issue_invoice(order())
    assert unsaved.value.status == 422
    assert [e["pointer"] for e in unsaved.value.problem["errors"]] == ["#/settings"]

    await invoicer.put_settings("store-pl", POLISH_ORDER["settings"])
    bad = {**order(), "currency": "ZZZ"}
    with pytest.raises(InvoicerRefused) as invalid:
        await invoicer.issue_invoice(bad)
    assert invalid.value.status == 422
    assert "#/order/currency" in [e["pointer"] for e in invalid.value.problem["errors"]]

    with pytest.raises(InvoicerRefused) as not_invoiced:
        await invoicer.issue_credit_note(
            {"store_id": "store-pl", "marketplace": "allegro", "order_id": "NONE", "refund_id": "R"}
        )
    assert not_invoiced.value.status == 409
    with pytest.raises(InvoicerRefused) as no_file:
        await invoicer.pdf("0123456789abcdef01234567")
    assert no_file.value.status == 404


async def test_an_invoicer_that_is_not_there_is_unavailable() -> None:
    adapter = HttpInvoicer(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    try:
        with pytest.raises(InvoicerUnavailable):
            await adapter.issue_invoice(order())
        with pytest.raises(InvoicerUnavailable):
            await adapter.get_settings("store-pl")
    finally:
        await adapter.close()


async def test_an_invoicer_that_never_answers_is_unavailable_after_the_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hang(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    adapter = HttpInvoicer(f"http://127.0.0.1:{port}", timeout_seconds=0.5)
    try:
        with pytest.raises(InvoicerUnavailable, match="in time"):
            await adapter.documents_of(DISCUSSION)
        assert accepted  # it did connect: the read timed out, not the connection
    finally:
        await adapter.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
