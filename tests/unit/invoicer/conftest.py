"""Sample orders and store settings for the invoicer's unit tests, as raw JSON-like dicts
(what the HTTP API receives), so tests exercise the same validation the API does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings

Payload = dict[str, Any]


def _line(sku: str, quantity: str, unit_price: str, vat_rate: str) -> Payload:
    return {
        "sku": sku,
        "label": f"Item {sku}",
        "quantity": quantity,
        "unit_price_excl_vat": unit_price,
        "vat_rate": vat_rate,
    }


@pytest.fixture
def order_payload() -> Payload:
    return {
        "store_id": "store-1",
        "marketplace": "carrefour",
        "order_id": "ORDER-1",
        "order_date": "2026-03-10",
        "currency": "EUR",
        "buyer": {
            "name": "Camille Martin",
            "language": "fr",
            "billing_address": {
                "lines": ["3 rue des Lilas"],
                "postal_code": "69003",
                "city": "Lyon",
                "country_code": "FR",
            },
        },
        "lines": [_line("A", "1", "10.00", "20")],
    }


@pytest.fixture
def settings_payload() -> Payload:
    return {
        "seller": {
            "legal_name": "Maison Dupré SAS",
            "vat_id": "FR40303265045",
            "registration": "RCS Paris 303 265 045",
            "address": {
                "lines": ["12 rue de la Paix"],
                "postal_code": "75002",
                "city": "Paris",
                "country_code": "FR",
            },
        },
        "numbering_prefix": "FA",
    }


@pytest.fixture
def line() -> Callable[[str, str, str, str], Payload]:
    """Builds one order line: ``line(sku, quantity, unit_price, vat_rate)``."""
    return _line


@pytest.fixture
def make_order(order_payload: Payload) -> Callable[..., InvoiceRequest]:
    """The sample order, with top-level fields or the buyer's fields overridden."""

    def make(*, buyer: Payload | None = None, **fields: Any) -> InvoiceRequest:
        payload = {**order_payload, **fields}
        payload["buyer"] = {**order_payload["buyer"], **(buyer or {})}
        return InvoiceRequest.model_validate(payload)

    return make


@pytest.fixture
def settings(settings_payload: Payload) -> InvoiceSettings:
    return InvoiceSettings.model_validate(settings_payload)
