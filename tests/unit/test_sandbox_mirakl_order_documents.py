"""The sandbox's Mirakl order documents on the wire: OR74 (upload) and OR72 (list).

Seller API, "Orders" section: "OR74 - Upload documents to associate to an order"
(multipart ``files`` + ``order_documents``; distinct file names; documented file
types; at most 50 documents per order; refused documents listed with their errors)
and "OR72 - List order's documents".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from parley_sandbox import create_app

AUTH = {"Authorization": "sandbox-shop-key"}
API = "/mirakl/carrefour/api"
ORDER = "SBX-ORDER-1-A"
PDF = b"%PDF-1.7 invoice"


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        answer = await client.post(
            "/_sandbox/mirakl/carrefour/messages", json={"body": "Facture ?", "order_id": ORDER}
        )
        assert answer.status_code == 201, answer.text
        yield client


def form(
    described: list[dict[str, str]] | None, files: list[tuple[str, bytes]]
) -> list[tuple[str, Any]]:
    parts: list[tuple[str, Any]] = [("files", (n, c, "application/pdf")) for n, c in files]
    if described is not None:
        text = json.dumps({"order_documents": described}).encode()
        parts.append(("order_documents", (None, text, "application/json")))
    return parts


async def upload(
    web: httpx.AsyncClient, described: Any, files: list[tuple[str, bytes]], order: str = ORDER
) -> httpx.Response:
    return await web.post(
        f"{API}/orders/{order}/documents", files=form(described, files), headers=AUTH
    )


async def listed(web: httpx.AsyncClient, *orders: str) -> list[dict[str, Any]]:
    answer = await web.get(
        f"{API}/orders/documents", params={"order_ids": ",".join(orders)}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    docs: list[dict[str, Any]] = answer.json()["order_documents"]
    return docs


async def test_an_invoice_uploaded_with_or74_is_listed_by_or72(web: httpx.AsyncClient) -> None:
    answer = await upload(
        web, [{"file_name": "FA-1.pdf", "type_code": "CUSTOMER_INVOICE"}], [("FA-1.pdf", PDF)]
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"errors_count": 0, "order_documents": []}
    (doc,) = await listed(web, ORDER)
    assert doc["file_name"] == "FA-1.pdf"
    assert doc["type"] == "CUSTOMER_INVOICE"
    assert doc["order_id"] == ORDER
    assert doc["file_size"] == len(PDF)
    assert {"id", "date_uploaded"} <= set(doc)


async def test_a_missing_file_is_refused_with_mirakls_error_body(web: httpx.AsyncClient) -> None:
    described = [{"file_name": "FA-1.pdf", "type_code": "CUSTOMER_INVOICE"}]
    no_files = await web.post(
        f"{API}/orders/{ORDER}/documents",
        files=[("order_documents", (None, json.dumps({"order_documents": described}).encode()))],
        headers=AUTH,
    )
    assert no_files.status_code == 400
    assert no_files.json() == {"message": "files is required", "status": 400}
    other = await upload(web, described, [("other.pdf", PDF)])
    assert other.status_code == 400
    assert set(other.json()) == {"message", "status"}
    assert await listed(web, ORDER) == []


async def test_order_documents_part_is_required_and_names_are_distinct(
    web: httpx.AsyncClient,
) -> None:
    assert (await upload(web, None, [("FA-1.pdf", PDF)])).status_code == 400
    twice = [{"file_name": "FA-1.pdf", "type_code": "CUSTOMER_INVOICE"}] * 2
    assert (await upload(web, twice, [("FA-1.pdf", PDF)])).status_code == 400


async def test_a_refused_document_is_reported_with_its_errors_the_others_kept(
    web: httpx.AsyncClient,
) -> None:
    answer = await upload(
        web,
        [
            {"file_name": "FA-1.pdf", "type_code": "CUSTOMER_INVOICE"},
            {"file_name": "x.exe", "type_code": "CUSTOMER_INVOICE"},
            {"file_name": "y.pdf", "type_code": "NO_SUCH_TYPE"},
        ],
        [("FA-1.pdf", PDF), ("x.exe", b"MZ"), ("y.pdf", PDF)],
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["errors_count"] == 2
    assert [d["file_name"] for d in body["order_documents"]] == ["x.exe", "y.pdf"]
    assert all(d["errors"] for d in body["order_documents"])
    assert [d["file_name"] for d in await listed(web, ORDER)] == ["FA-1.pdf"]


async def test_an_order_holds_at_most_50_documents(web: httpx.AsyncClient) -> None:
    for n in range(50):
        name = f"d{n}.pdf"
        ok = await upload(
            web, [{"file_name": name, "type_code": "CUSTOMER_INVOICE"}], [(name, PDF)]
        )
        assert ok.json()["errors_count"] == 0
    full = await upload(
        web, [{"file_name": "d50.pdf", "type_code": "CUSTOMER_INVOICE"}], [("d50.pdf", PDF)]
    )
    assert full.json()["errors_count"] == 1
    assert len(await listed(web, ORDER)) == 50


async def test_unknown_order_is_not_found_and_or72_needs_order_ids(web: httpx.AsyncClient) -> None:
    described = [{"file_name": "FA-1.pdf", "type_code": "CUSTOMER_INVOICE"}]
    assert (await upload(web, described, [("FA-1.pdf", PDF)], order="NOPE")).status_code == 404
    answer = await web.get(f"{API}/orders/documents", headers=AUTH)
    assert answer.status_code == 400
    wrong_key = await web.get(
        f"{API}/orders/documents", params={"order_ids": ORDER}, headers={"Authorization": "x"}
    )
    assert wrong_key.status_code == 401


async def test_parleys_client_round_trips_through_the_sandbox(web: httpx.AsyncClient) -> None:
    from parley_connectors.mirakl import CUSTOMER_INVOICE, MiraklClient, OutgoingFile

    transport = web._transport  # the sandbox app, in process
    async with httpx.AsyncClient(transport=transport) as http:
        client = MiraklClient("http://sandbox/mirakl/carrefour", "sandbox-shop-key", http=http)
        pdf = OutgoingFile("FA-9.pdf", PDF, "application/pdf")
        result = await client.upload_order_documents(ORDER, [(pdf, CUSTOMER_INVOICE)])
        assert result.errors_count == 0
        (doc,) = await client.list_order_documents([ORDER])
        assert (doc.file_name, doc.code) == ("FA-9.pdf", CUSTOMER_INVOICE)
