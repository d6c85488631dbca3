""" "Reply with invoice" through the whole system (F20, F18): gateway → invoicer →
Kafka → responder → the sandbox's marketplaces.

The merchant saves the store's invoice settings, then answers a buyer with
``attach_invoice``: the invoice is numbered once by the invoicer and travels with the
reply like any attachment. A Mirakl instance that takes files receives the PDF itself;
Rakuten, which carries no files, receives a download link that serves the same PDF to
a buyer without an API key. The bytes are compared with the invoice the gateway
serves from the discussion (``GET /discussions/{id}/invoices/{file_id}``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import httpx
import pytest
from devstack import SANDBOX_CREDENTIALS, ServiceGroup
from e2e.test_replies import (
    TIMEOUT,
    a_minute_ago,
    listed,
    mirakl_discussion,
    mirakl_replies,
    ok_json,
    outbound,
    problem,
)
from support.invoicing import invoice_settings
from support.waiting import eventually

pytestmark = pytest.mark.e2e

# A first render (fonts, PDF/A-3 conversion) takes seconds on a loaded machine.
SLOW = httpx.Timeout(60.0)
SETTINGS = invoice_settings("Boutique Parley SAS", "FA")
ORDER: dict[str, Any] = {
    "order_date": "2026-05-30",
    "buyer": {
        "billing_address": {
            "lines": ["5 place Bellecour"],
            "postal_code": "69002",
            "city": "Lyon",
            "country_code": "FR",
        }
    },
    "lines": [
        {
            "sku": "MUG-01",
            "label": "Mug en céramique",
            "quantity": "2",
            "unit_price_excl_vat": "12.50",
            "vat_rate": "20",
        }
    ],
}


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store_id(suffix: str) -> str:
    return f"e2e-invoices-{suffix}"


@pytest.fixture
def instance(suffix: str) -> str:
    return f"e2ei{suffix}"


async def reply_with_invoice(
    gateway: httpx.AsyncClient, discussion_id: str, text: str, order: dict[str, Any]
) -> dict[str, Any]:
    response = await gateway.post(
        f"/discussions/{discussion_id}/replies",
        json={"body": text, "attach_invoice": order},
        timeout=SLOW,
    )
    return await ok_json(response, 202)


async def the_invoice(
    gateway: httpx.AsyncClient, discussion_id: str, number: str
) -> tuple[dict[str, Any], bytes]:
    """The discussion's invoice ``number`` as listed, and its PDF as the gateway serves it."""
    listing = await ok_json(await gateway.get(f"/discussions/{discussion_id}/invoices"))
    (invoice,) = [i for i in listing["items"] if i["number"] == number]
    pdf = await gateway.get(invoice["download"])
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    return invoice, pdf.content


async def test_an_invoice_goes_natively_to_a_mirakl_instance_with_the_reply(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    item = await mirakl_discussion(system, gateway, sandbox, store_id, instance)
    # Without settings the invoicer's 422 names them, and nothing is sent.
    refused = problem(
        await gateway.post(
            f"/discussions/{item['id']}/replies",
            json={"body": "Votre facture.", "attach_invoice": {**ORDER, "currency": "EUR"}},
            timeout=SLOW,
        ),
        422,
    )
    assert [e["pointer"] for e in refused["errors"]] == ["#/settings"]
    await ok_json(await gateway.put(f"/stores/{store_id}/invoice-settings", json=SETTINGS))

    text = "Bonjour Camille, voici votre facture."
    accepted = await reply_with_invoice(gateway, item["id"], text, ORDER)
    number = accepted["invoice"]["number"]
    assert re.fullmatch(r"FA-\d{4}-\d+", number), number
    message = await outbound(gateway, item["id"], accepted["command_id"], "sent")
    assert message["body"] == text  # the file travelled with it: no link appended
    (shown,) = message["attachments"]
    assert shown["name"] == f"{number}.pdf"

    invoice, pdf = await the_invoice(gateway, item["id"], number)
    assert invoice["order_id"] == f"ORDER-{instance}"  # from the discussion
    (received,) = await mirakl_replies(sandbox, instance)
    assert received["body"] == text
    (file,) = received["attachments"]
    assert (file["name"], file["content_type"]) == (f"{number}.pdf", "application/pdf")
    assert file["sha256"] == hashlib.sha256(pdf).hexdigest()

    # Asking again for the order's invoice: the same number and file, not a new one.
    again = await gateway.post(f"/discussions/{item['id']}/invoices", json=ORDER, timeout=SLOW)
    assert (await ok_json(again, 200))["number"] == number

    # Mirakl also takes invoices as order documents (OR74): filed on the order, once.
    filed: list[dict[str, Any]] = []

    async def on_the_order() -> bool:
        listed = await sandbox.get(
            f"/mirakl/{instance}/api/orders/documents",
            params={"order_ids": f"ORDER-{instance}"},
            headers={"Authorization": SANDBOX_CREDENTIALS["mirakl"]["api_key"]},
        )
        filed[:] = (await ok_json(listed))["order_documents"]
        return bool(filed)

    await eventually(on_the_order, timeout=TIMEOUT)
    (document,) = filed
    assert (document["file_name"], document["type"]) == (f"{number}.pdf", "CUSTOMER_INVOICE")


async def test_an_invoice_rakuten_cannot_carry_is_a_link_to_the_same_pdf(
    system: ServiceGroup,
    store_id: str,
    instance: str,
    gateway: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
) -> None:
    system.activate_family(
        "rakuten",
        f"{store_id}-{instance}",
        store_id,
        instance,
        since=a_minute_ago(),
        interval_seconds=2,
    )
    await ok_json(
        await sandbox.post(
            f"/_sandbox/rakuten/{instance}/messages",
            json={"body": "La facture svp", "buyer": "marie.e2e", "headline": "Un livre"},
        ),
        201,
    )
    item = await listed(gateway, store_id)
    await ok_json(await gateway.put(f"/stores/{store_id}/invoice-settings", json=SETTINGS))
    order = {**ORDER, "order_id": f"RK-{instance}", "buyer": {**ORDER["buyer"], "name": "Marie"}}
    if item.get("order_id"):
        order["order_id"] = item["order_id"]

    text = "Bonjour Marie, la facture est en lien ci-dessous."
    accepted = await reply_with_invoice(gateway, item["id"], text, order)
    number = accepted["invoice"]["number"]
    message = await outbound(gateway, item["id"], accepted["command_id"], "sent")

    page = await ok_json(await sandbox.get(f"/_sandbox/rakuten/{instance}/replies"))
    (received,) = page["replies"]
    content: str = received["content"]
    assert content == message["body"]
    match = re.fullmatch(
        re.escape(text)
        + "\n\n"
        + re.escape(f"{number}.pdf")
        + r": (http://127\.0\.0\.1:\d+/links/\S+)",
        content,
    )
    assert match, content
    _, pdf = await the_invoice(gateway, item["id"], number)
    async with httpx.AsyncClient(timeout=10) as buyer:  # no API key
        got = await buyer.get(match.group(1))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf"
    assert got.content == pdf
