"""Request and response bodies of the invoice routes (F20).

Shapes only: the invoicer validates the content (currencies, VAT ids, country codes,
decimal places...) and its 422 reaches the client with each pointer into this body.
Decimals travel as strings ("19.99"), so no amount is ever a binary float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def supplied(self) -> dict[str, Any]:
        """What the client sent, as JSON (decimals as strings), without the unset."""
        return self.model_dump(mode="json", exclude_none=True)


class AddressIn(_In):
    lines: list[str] = Field(min_length=1, max_length=3, examples=[["12 rue de la Paix"]])
    postal_code: str | None = Field(default=None, max_length=200, examples=["75002"])
    city: str = Field(min_length=1, max_length=200, examples=["Paris"])
    country_code: str = Field(min_length=2, max_length=2, examples=["FR"])


class BuyerIn(_In):
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Default: the discussion's customer name",
    )
    billing_address: AddressIn | None = None
    language: str | None = Field(
        default=None, max_length=35, description="Default: the store's default language"
    )
    vat_id: str | None = Field(default=None, max_length=200, description="Business buyers")


class InvoiceLineIn(_In):
    sku: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=1000)
    quantity: Decimal = Field(gt=0, examples=["1"])
    unit_price_excl_vat: Decimal = Field(ge=0, examples=["41.66"])
    vat_rate: Decimal = Field(ge=0, le=100, description="Percent, e.g. 20 or 5.5")


class InvoiceOrderIn(_In):
    """The order to invoice. Store, marketplace and the discussion come from the
    discussion, and so do the order id and the buyer's name when it knows them; the
    rest no marketplace reports to Parley today, so the request gives it."""

    order_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="Default: the discussion's"
    )
    order_date: date | None = Field(default=None, description="Required")
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="ISO 4217; default: the store's default currency",
    )
    buyer: BuyerIn | None = Field(default=None, description="billing_address is required")
    lines: list[InvoiceLineIn] | None = Field(
        default=None, max_length=500, description="Required, at least one"
    )


class CreditNoteIn(_In):
    """A refund of the discussion's invoiced order; without ``lines`` the whole
    invoice is credited. One credit note per refund id."""

    refund_id: str = Field(min_length=1, max_length=64, examples=["R-1001"])
    order_id: str | None = Field(default=None, min_length=1, max_length=200)
    reason: str | None = Field(default=None, min_length=1, max_length=1000)
    lines: list[InvoiceLineIn] | None = Field(default=None, min_length=1, max_length=500)


class SellerIn(_In):
    legal_name: str = Field(min_length=1, max_length=200)
    address: AddressIn
    vat_id: str = Field(min_length=2, max_length=32, examples=["FR40123456789"])
    registration: str | None = Field(default=None, max_length=200)
    company_id: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200)


class PaymentTermsIn(_In):
    due_in_days: int = Field(default=0, ge=0, le=365)
    note: str | None = Field(default=None, max_length=1000)


class InvoiceSettingsIn(_In):
    """A store's invoicing set-up: who sells, how invoices are numbered and paid."""

    seller: SellerIn
    numbering_prefix: str = Field(min_length=1, max_length=16, examples=["FA"])
    credit_note_prefix: str | None = Field(default=None, max_length=16, examples=["AV"])
    payment_terms: PaymentTermsIn | None = None
    time_zone: str | None = Field(default=None, max_length=64, examples=["Europe/Paris"])
    default_language: str | None = Field(default=None, max_length=35, examples=["fr"])
    default_currency: str | None = Field(default=None, min_length=3, max_length=3)
    legal_mentions: list[str] | None = Field(default=None, max_length=10)
    logo: str | None = Field(
        default=None, max_length=350_000, description="data:image/...;base64,... (no URLs)"
    )


class InvoiceOut(BaseModel):
    """An invoice or credit note of a discussion; its PDF is at ``download``."""

    number: str
    kind: Literal["invoice", "credit_note"] | str
    file_id: str
    download: str = Field(description="GET this path (API key) for the PDF")
    issue_date: date | None = None
    order_id: str | None = None
    currency: str | None = None
    total_incl_vat: str | None = Field(default=None, description="Decimal as a string")
    corrects: str | None = Field(default=None, description="A credit note's invoice number")


class InvoiceList(BaseModel):
    items: list[InvoiceOut]


class AttachedInvoiceOut(BaseModel):
    """The invoice a reply carries: its number, and its id as the reply's attachment."""

    number: str
    attachment_id: str
