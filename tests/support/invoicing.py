"""A store's invoicing set-up for end-to-end tests: what `PUT /stores/{id}/invoice-settings`
takes, so a reply can carry the order's invoice. One French seller; tests differ only in
the name on the invoice and the numbering prefix they look for."""

from __future__ import annotations

from typing import Any


def invoice_settings(legal_name: str, numbering_prefix: str) -> dict[str, Any]:
    return {
        "seller": {
            "legal_name": legal_name,
            "address": {
                "lines": ["12 rue de la Paix"],
                "postal_code": "75002",
                "city": "Paris",
                "country_code": "FR",
            },
            "vat_id": "FR40123456789",
            "company_id": "123456789",
        },
        "numbering_prefix": numbering_prefix,
        "default_language": "fr",
        "default_currency": "EUR",
    }
