"""The invoicer's documents on the real MongoDB-compatible server, through its HTTP API.

Settings saved per store, an order invoiced once (the same number and the same stored
file on every repeat), the PDF kept in the invoicer's GridFS bucket and fetched back,
the listings by order and by discussion, and a refund's credit note (type 381) issued
once per refund id.
"""

from __future__ import annotations

import copy
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import facturx  # type: ignore[import-untyped]
import httpx
import pytest
from integration.test_invoicer_http import POLISH_ORDER
from pymongo.asynchronous.database import AsyncDatabase
from pypdf import PdfReader

from parley_invoicer.adapters.mongo import BUCKET, FILES, SETTINGS
from parley_invoicer.config import InvoicerSettings
from parley_invoicer.main import create_app

pytestmark = pytest.mark.integration

STORE = POLISH_ORDER["order"]["store_id"]


@pytest.fixture
async def client(mongo_uri: str, mongo_db: AsyncDatabase[Any]) -> AsyncIterator[httpx.AsyncClient]:
    settings = InvoicerSettings(mongodb_uri=mongo_uri, mongodb_database=mongo_db.name)
    app = create_app(settings, clock=lambda: datetime(2026, 3, 12, 10, 0, tzinfo=UTC))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://invoicer") as http:
            yield http


def order(**fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(POLISH_ORDER["order"])
    body.update(discussion_id="disc-42", **fields)
    return body


async def test_an_order_is_invoiced_once_stored_once_listed_and_credited(
    client: httpx.AsyncClient, mongo_db: AsyncDatabase[Any]
) -> None:
    saved = await client.put(f"/stores/{STORE}/invoice-settings", json=POLISH_ORDER["settings"])
    assert saved.status_code == 200, saved.text
    assert (await client.get(f"/stores/{STORE}/invoice-settings")).json() == saved.json()

    # Settings left out: the saved ones are used.
    first = await client.post("/invoices", json={"order": order()})
    again = await client.post("/invoices", json={"order": order()})

    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert (
        first.headers["x-invoice-number"] == again.headers["x-invoice-number"] == "FV-2026-000001"
    )
    file_id = first.headers["x-invoice-file-id"]
    assert again.headers["x-invoice-file-id"] == file_id
    assert again.content == first.content
    # Stored in the invoicer's GridFS bucket, one file for the order.
    assert await mongo_db[f"{BUCKET}.files"].count_documents({}) == 1
    assert await mongo_db[FILES].count_documents({}) == 1
    stored = await mongo_db[f"{BUCKET}.files"].find_one({})
    assert stored is not None and str(stored["_id"]) == file_id
    assert stored["filename"] == "FV-2026-000001.pdf"
    fetched = await client.get(f"/invoice-files/{file_id}")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.content == first.content
    _, xml = facturx.get_xml_from_pdf(fetched.content, check_xsd=True)
    assert b"<ram:TypeCode>380</ram:TypeCode>" in xml

    credit = await client.post(
        "/credit-notes",
        json={
            "refund": {
                "store_id": STORE,
                "marketplace": "allegro",
                "order_id": "ALG-9876543",
                "refund_id": "RF-1",
                "reason": "Zwrot towaru",
            }
        },
    )
    credit_again = await client.post(
        "/credit-notes",
        json={
            "refund": {
                "store_id": STORE,
                "marketplace": "allegro",
                "order_id": "ALG-9876543",
                "refund_id": "RF-1",
            }
        },
    )
    assert (credit.status_code, credit_again.status_code) == (201, 200), credit.text
    assert credit.headers["x-document-kind"] == "credit_note"
    assert credit.headers["x-invoice-number"] == "FV-2026-000002"  # the shared series
    assert credit_again.content == credit.content
    _, credit_xml = facturx.get_xml_from_pdf(credit.content, check_xsd=True)
    assert b"<ram:TypeCode>381</ram:TypeCode>" in credit_xml
    assert b"<ram:IssuerAssignedID>FV-2026-000001</ram:IssuerAssignedID>" in credit_xml
    text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(credit.content)).pages)
    assert "Faktura korygująca" in text

    by_order = await client.get(
        "/invoices", params={"store_id": STORE, "marketplace": "allegro", "order_id": "ALG-9876543"}
    )
    by_discussion = await client.get("/invoices", params={"discussion_id": "disc-42"})
    assert by_order.status_code == by_discussion.status_code == 200
    listed = [(d["number"], d["kind"], d["corrects"]) for d in by_order.json()["documents"]]
    assert listed == [
        ("FV-2026-000001", "invoice", None),
        ("FV-2026-000002", "credit_note", "FV-2026-000001"),
    ]
    assert by_discussion.json() == by_order.json()
    assert by_order.json()["documents"][0]["file_id"] == file_id
    assert by_order.json()["documents"][0]["total_incl_vat"] == "140.00"


async def test_an_order_of_a_store_without_settings_is_a_422_naming_settings(
    client: httpx.AsyncClient, mongo_db: AsyncDatabase[Any]
) -> None:
    response = await client.post("/invoices", json={"order": order(store_id="store-unset")})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/settings"]
    assert await mongo_db[SETTINGS].count_documents({}) == 0
    assert await mongo_db[f"{BUCKET}.files"].count_documents({}) == 0


async def test_bad_settings_are_refused_and_change_nothing(
    client: httpx.AsyncClient, mongo_db: AsyncDatabase[Any]
) -> None:
    bad = copy.deepcopy(POLISH_ORDER["settings"])
    del bad["seller"]["vat_id"]
    bad["numbering_prefix"] = "F-V"

    response = await client.put(f"/stores/{STORE}/invoice-settings", json=bad)

    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"#/seller/vat_id", "#/numbering_prefix"}
    assert await mongo_db[SETTINGS].count_documents({}) == 0
    assert (await client.get(f"/stores/{STORE}/invoice-settings")).status_code == 404


async def test_crediting_an_order_never_invoiced_is_a_409_and_spends_no_number(
    client: httpx.AsyncClient,
) -> None:
    refund = {"store_id": STORE, "marketplace": "allegro", "order_id": "NONE", "refund_id": "R9"}

    response = await client.post(
        "/credit-notes", json={"refund": refund, "settings": POLISH_ORDER["settings"]}
    )
    invoice = await client.post("/invoices", json=POLISH_ORDER)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert invoice.headers["x-invoice-number"] == "FV-2026-000001"


async def test_unknown_files_and_listings_without_a_key_are_problems(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/invoice-files/65f0c0ffee0000000000abcd")
    unlisted = await client.get("/invoices", params={"store_id": STORE})

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert unlisted.status_code == 422
    assert {e["pointer"] for e in unlisted.json()["errors"]} == {
        "#/query/marketplace",
        "#/query/order_id",
    }


async def test_a_refund_beyond_the_invoice_is_a_422_naming_the_lines(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/invoices", json=POLISH_ORDER)).status_code == 201
    line = copy.deepcopy(POLISH_ORDER["order"]["lines"][0]) | {"quantity": "4"}  # 3 sold
    refund = {
        "store_id": STORE,
        "marketplace": "allegro",
        "order_id": "ALG-9876543",
        "refund_id": "RF-9",
        "lines": [line],
    }

    response = await client.post(
        "/credit-notes", json={"refund": refund, "settings": POLISH_ORDER["settings"]}
    )
    listed = await client.get("/invoices", params={"discussion_id": "disc-42"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/refund/lines/0/quantity"]
    assert listed.json() == {"documents": []}  # POLISH_ORDER has no discussion
