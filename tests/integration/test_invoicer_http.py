"""The invoicer through its HTTP API: a real PDF out, problem+json for bad input.

Runs the FastAPI app in-process with the real WeasyPrint renderer and system fonts,
over the in-memory ledger (numbering on MongoDB across processes is
tests/integration/test_invoicer_numbering.py), so no stack is required.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from parley_invoicer.adapters.memory import InMemoryInvoiceLedger
from parley_invoicer.main import create_app

POLISH_ORDER: dict[str, Any] = {
    "settings": {
        "seller": {
            "legal_name": "Sklep Żagiel sp. z o.o.",
            "vat_id": "PL5260250995",
            "registration": "KRS 0000123456",
            "address": {
                "lines": ["ul. Marszałkowska 10"],
                "postal_code": "00-590",
                "city": "Warszawa",
                "country_code": "PL",
            },
        },
        "numbering_prefix": "FV",
        "payment_terms": {"due_in_days": 7, "note": "Zapłacono przez Allegro."},
        "time_zone": "Europe/Warsaw",
    },
    "order": {
        "store_id": "store-pl",
        "marketplace": "allegro",
        "order_id": "ALG-9876543",
        "order_date": "2026-03-10",
        "currency": "PLN",
        "buyer": {
            "name": "Łukasz Wróbel-Żółć",
            "language": "pl-PL",
            "billing_address": {
                "lines": ["ul. Świętokrzyska 12 m. 4"],
                "postal_code": "90-001",
                "city": "Łódź",
                "country_code": "PL",
            },
        },
        "lines": [
            {
                "sku": "MUG-01",
                "label": "Kubek ceramiczny „Żubr” 350 ml",
                "quantity": 3,
                "unit_price_excl_vat": "24.39",
                "vat_rate": 23,
            },
            {
                "sku": "BOOK-7",
                "label": "Książka: Pan Tadeusz",
                "quantity": "1",
                "unit_price_excl_vat": 47.62,
                "vat_rate": "5",
            },
        ],
    },
}
# 73.17 + 47.62 = 120.79 net; VAT 16.83 (23 %) + 2.38 (5 %) = 19.21; 140.00 gross.
GRAND_TOTAL = "140,00 PLN"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A fresh app per test (so numbering starts at 1), called in-process over ASGI."""
    app = create_app(
        ledger=InMemoryInvoiceLedger(), clock=lambda: datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://invoicer") as http:
        yield http


def pdf_text(body: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    # Amounts are grouped and spaced with no-break spaces; compare on plain spaces.
    return re.sub(r"[\u00a0\u202f]", " ", text)


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_polish_order_becomes_a_polish_pdf_invoice(client: httpx.AsyncClient) -> None:
    response = await client.post("/invoices", json=POLISH_ORDER)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-invoice-number"] == "FV-2026-000001"
    assert response.headers["content-disposition"] == 'attachment; filename="FV-2026-000001.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    for expected in [
        "Faktura",
        "FV-2026-000001",
        "Łukasz Wróbel-Żółć",
        "ul. Świętokrzyska 12 m. 4",
        "90-001 Łódź",
        "Kubek ceramiczny „Żubr” 350 ml",
        "Sklep Żagiel sp. z o.o.",
        "Razem brutto",
        GRAND_TOTAL,
        "12 mar 2026",  # CLDR medium date, Polish
    ]:
        assert expected in text, f"{expected!r} not in the PDF text:\n{text}"


async def test_each_order_gets_the_next_number(client: httpx.AsyncClient) -> None:
    numbers = []
    for order_id in ("ALG-1", "ALG-2"):
        payload = copy.deepcopy(POLISH_ORDER)
        payload["order"]["order_id"] = order_id
        response = await client.post("/invoices", json=payload)
        numbers.append(response.headers["x-invoice-number"])

    assert numbers == ["FV-2026-000001", "FV-2026-000002"]


async def test_an_order_asked_again_gets_the_same_invoice(client: httpx.AsyncClient) -> None:
    first = await client.post("/invoices", json=POLISH_ORDER)
    again = await client.post("/invoices", json=POLISH_ORDER)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["x-invoice-number"] == first.headers["x-invoice-number"]
    assert again.headers["x-invoice-file-id"] == first.headers["x-invoice-file-id"]
    assert again.content == first.content


async def test_bad_input_is_a_problem_json_listing_every_invalid_field(
    client: httpx.AsyncClient,
) -> None:
    payload = copy.deepcopy(POLISH_ORDER)
    payload["order"]["currency"] = "ZLX"
    payload["order"]["lines"][1]["quantity"] = -1

    response = await client.post("/invoices", json=payload)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://parley.dev/problems/invalid-request"
    assert problem["title"] == "Invalid request"
    assert problem["status"] == 422
    assert problem["detail"] == "The request has 2 invalid fields; see errors for each one."
    assert sorted(problem["errors"], key=lambda e: e["pointer"]) == [
        {
            "pointer": "#/order/currency",
            "detail": "unknown currency code 'ZLX': expected an ISO 4217 code such as EUR or PLN",
            "code": "unknown_currency",
        },
        {
            "pointer": "#/order/lines/1/quantity",
            "detail": "Input should be greater than 0",
            "code": "greater_than",
        },
    ]


async def test_an_order_without_lines_is_refused_and_spends_no_number(
    client: httpx.AsyncClient,
) -> None:
    payload = copy.deepcopy(POLISH_ORDER)
    payload["order"]["lines"] = []

    refused = await client.post("/invoices", json=payload)
    accepted = await client.post("/invoices", json=POLISH_ORDER)

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "#/order/lines"
    assert accepted.headers["x-invoice-number"] == "FV-2026-000001"


async def test_malformed_json_is_a_problem_json_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/invoices", content=b'{"settings": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["code"] == "json_invalid"


async def test_unknown_routes_answer_in_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/invoice")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }


async def test_the_openapi_document_describes_the_pdf_and_the_problems(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/invoices"]["post"]

    assert "application/pdf" in operation["responses"]["201"]["content"]
    assert "application/problem+json" in operation["responses"]["422"]["content"]
