"""Contract: Mirakl order documents (OR74 upload, OR72 list) as the seller API documents
them, not as our sandbox serves them.

developer.mirakl.com, Mirakl Marketplace Platform, seller (shop) REST API, section
"Orders": "OR74 - Upload documents to associate to an order" and "OR72 - List order's
documents". The requests are checked part by part against what those sections ask,
and the answers below are written from their response descriptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest

from parley_connectors.errors import BadRequest
from parley_connectors.mirakl import CUSTOMER_INVOICE, MiraklClient, OutgoingFile

KEY = "shop-key"
BASE = "https://marketplace.example.com"
PDF = OutgoingFile("FA-2026-0001.pdf", b"%PDF-1.7 invoice", "application/pdf")


def parts_of(request: httpx.Request) -> list[tuple[str, str | None, str, bytes]]:
    """(field name, file name, content type, bytes) of each multipart/form-data part."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    found = []
    for part in message.iter_parts():
        found.append(
            (
                str(part.get_param("name", header="content-disposition")),
                part.get_filename(),
                part.get_content_type(),
                part.get_payload(decode=True) or b"",
            )
        )
    return found


def mirakl(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[MiraklClient, list[Any]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return MiraklClient(BASE, KEY, shop_id=2001, http=http), seen


async def test_or74_posts_the_files_and_their_order_documents_description() -> None:
    """OR74: ``POST /api/orders/{order_id}/documents``, multipart/form-data, one
    ``files`` part per document and ``order_documents`` naming each file with its
    ``type_code``; the shop API key in ``Authorization``, ``shop_id`` in the query."""
    client, seen = mirakl(
        lambda _: httpx.Response(200, json={"errors_count": 0, "order_documents": []})
    )
    result = await client.upload_order_documents("ORDER-0001-A", [(PDF, CUSTOMER_INVOICE)])
    assert result.errors_count == 0
    assert result.errors_of(PDF.name) == []
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/api/orders/ORDER-0001-A/documents"
    assert request.url.params["shop_id"] == "2001"
    assert request.headers["authorization"] == KEY
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = parts_of(request)
    files = [p for p in parts if p[0] == "files"]
    assert files == [("files", PDF.name, "application/pdf", PDF.content)]
    (described,) = [p for p in parts if p[0] == "order_documents"]
    assert described[2] == "application/json"
    assert json.loads(described[3]) == {
        "order_documents": [{"file_name": PDF.name, "type_code": "CUSTOMER_INVOICE"}]
    }


async def test_or74_reports_the_errors_mirakl_gives_for_a_refused_document() -> None:
    """OR74 answers 200 with ``errors_count`` and, per document, its ``errors``."""
    answer = {
        "errors_count": 1,
        "order_documents": [
            {
                "file_name": PDF.name,
                "type_code": "CUSTOMER_INVOICE",
                "errors": [{"code": "DOCUMENT_TYPE_NOT_FOUND", "message": "Unknown type"}],
            }
        ],
    }
    client, _ = mirakl(lambda _: httpx.Response(200, json=answer))
    result = await client.upload_order_documents("ORDER-0001-A", [(PDF, CUSTOMER_INVOICE)])
    assert result.errors_count == 1
    assert result.errors_of(PDF.name) == ["Unknown type"]


async def test_or74_a_refused_request_is_a_bad_request_with_mirakls_message() -> None:
    client, _ = mirakl(
        lambda _: httpx.Response(400, json={"status": 400, "message": "files is required"})
    )
    with pytest.raises(BadRequest, match="files is required"):
        await client.upload_order_documents("ORDER-0001-A", [(PDF, CUSTOMER_INVOICE)])


async def test_or74_limits_are_checked_before_anything_is_sent() -> None:
    """Distinct file names, the documented file types, at most 50 documents."""
    client, seen = mirakl(lambda _: httpx.Response(500))
    with pytest.raises(ValueError, match="distinct"):
        await client.upload_order_documents("O", [(PDF, CUSTOMER_INVOICE), (PDF, CUSTOMER_INVOICE)])
    with pytest.raises(ValueError, match="does not take"):
        exe = OutgoingFile("invoice.exe", b"MZ", "application/octet-stream")
        await client.upload_order_documents("O", [(exe, CUSTOMER_INVOICE)])
    many = [(OutgoingFile(f"f{i}.pdf", b"x", "application/pdf"), "X") for i in range(51)]
    with pytest.raises(ValueError, match="at most 50"):
        await client.upload_order_documents("O", many)
    assert seen == []


async def test_or72_lists_the_documents_of_an_order() -> None:
    """OR72: ``GET /api/orders/documents?order_ids=…``; each document has ``id``,
    ``file_name``, ``file_size``, ``type``, ``order_id``, ``date_uploaded``."""
    answer = {
        "order_documents": [
            {
                "date_uploaded": "2026-05-30T10:00:00Z",
                "file_name": PDF.name,
                "file_size": len(PDF.content),
                "id": "1234",
                "order_id": "ORDER-0001-A",
                "type": "CUSTOMER_INVOICE",
            }
        ],
        "total_count": 1,
    }
    client, seen = mirakl(lambda _: httpx.Response(200, json=answer))
    (doc,) = await client.list_order_documents(["ORDER-0001-A"])
    assert (doc.id, doc.file_name, doc.code, doc.order_id) == (
        "1234",
        PDF.name,
        "CUSTOMER_INVOICE",
        "ORDER-0001-A",
    )
    assert seen[0].url.path == "/api/orders/documents"
    assert seen[0].url.params["order_ids"] == "ORDER-0001-A"


# --- the responder's Mirakl adapter ----------------------------------------------------


def adapter(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[Any, list[Any]]:
    from parley_connectors.mirakl.writing import MiraklReplies

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return MiraklReplies(http=httpx.AsyncClient(transport=httpx.MockTransport(handler))), seen


def destination() -> Any:
    from parley_responder.ports import Destination

    return Destination("mirakl", BASE, {"api_key": KEY}, {"shop_id": "2001"})


async def test_the_responder_files_the_invoice_as_a_customer_invoice_with_or74() -> None:
    """OR74 as the responder sends it: the invoice PDF in ``files`` and its
    ``order_documents`` entry with the documented ``CUSTOMER_INVOICE`` type code."""
    replies, seen = adapter(
        lambda _: httpx.Response(200, json={"errors_count": 0, "order_documents": []})
    )
    await replies.upload_order_document(destination(), "ORDER-0001-A", PDF, "CUSTOMER_INVOICE")
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/api/orders/ORDER-0001-A/documents")
    parts = parts_of(request)
    assert [p[:3] for p in parts if p[0] == "files"] == [("files", PDF.name, "application/pdf")]
    (described,) = [json.loads(p[3]) for p in parts if p[0] == "order_documents"]
    assert described["order_documents"] == [
        {"file_name": PDF.name, "type_code": "CUSTOMER_INVOICE"}
    ]


async def test_the_responder_reads_a_per_file_error_as_a_refusal() -> None:
    """OR74 answers 200 with ``errors_count`` 1: the document was not filed."""
    refused = {
        "errors_count": 1,
        "order_documents": [
            {
                "file_name": PDF.name,
                "type_code": "CUSTOMER_INVOICE",
                "errors": [{"code": "MAX_DOCUMENTS", "message": "Too many documents"}],
            }
        ],
    }
    replies, _ = adapter(lambda _: httpx.Response(200, json=refused))
    with pytest.raises(BadRequest, match="Too many documents"):
        await replies.upload_order_document(destination(), "ORDER-0001-A", PDF, "CUSTOMER_INVOICE")


async def test_the_responder_asks_or72_whether_the_invoice_is_on_the_order() -> None:
    listed = {
        "order_documents": [
            {"id": "9", "file_name": PDF.name, "order_id": "ORDER-0001-A", "type": "X"}
        ]
    }
    replies, seen = adapter(lambda _: httpx.Response(200, json=listed))
    assert await replies.has_order_document(destination(), "ORDER-0001-A", PDF.name)
    assert not await replies.has_order_document(destination(), "ORDER-0001-A", "other.pdf")
    assert seen[0].url.params["order_ids"] == "ORDER-0001-A"
