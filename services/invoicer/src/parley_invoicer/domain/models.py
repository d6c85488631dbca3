"""What an invoice is made from: the order as the marketplace sold it, and the seller.

These are the validated inputs of the domain. They refuse what would make a wrong
invoice (a negative quantity, a currency nobody pays in, an order without lines) with
an error a merchant can act on, and they never round: rounding belongs to
:mod:`parley_invoicer.domain.totals`, where the law says it happens.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from parley_invoicer.domain.money import is_known_currency

# Parts of the order's key (store:marketplace:order): no colon, so the key is unambiguous.
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]

_LOCALE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")
# No dash: it separates the parts of an invoice number, and the number becomes a filename.
_PREFIX = re.compile(r"[A-Za-z0-9_]{1,16}")


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if not is_known_currency(code):
        raise PydanticCustomError(
            "unknown_currency",
            "unknown currency code '{code}': expected an ISO 4217 code such as EUR or PLN",
            {"code": value},
        )
    return code


def _country_code(value: str) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise PydanticCustomError(
            "country_code",
            "country code '{code}' should be two letters (ISO 3166-1 alpha-2, e.g. PL)",
            {"code": value},
        )
    return code


def _locale(value: str) -> str:
    if not _LOCALE.fullmatch(value.strip()):
        raise PydanticCustomError(
            "locale",
            "language '{value}' should be a language tag such as pl or pl-PL",
            {"value": value},
        )
    return value.strip()


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        raise PydanticCustomError(
            "time_zone",
            "unknown time zone '{value}': expected an IANA name such as Europe/Paris",
            {"value": value},
        ) from None
    return value


def _numbering_prefix(value: str) -> str:
    if not _PREFIX.fullmatch(value):
        raise PydanticCustomError(
            "numbering_prefix",
            "numbering prefix '{value}' should be 1 to 16 letters, digits or underscores",
            {"value": value},
        )
    return value


def _at_least_one_line(lines: tuple[InvoiceLine, ...]) -> tuple[InvoiceLine, ...]:
    if not lines:
        raise PydanticCustomError("no_lines", "an invoice needs at least one line")
    return lines


CurrencyCode = Annotated[str, AfterValidator(_currency_code)]
CountryCode = Annotated[str, AfterValidator(_country_code)]
Locale = Annotated[str, AfterValidator(_locale)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
NumberingPrefix = Annotated[str, AfterValidator(_numbering_prefix)]


class _Value(BaseModel):
    """Immutable and strict about unknown fields, so a misspelt key is an error, not a
    silently missing value on a legal document."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PostalAddress(_Value):
    """A postal address as printed on the invoice (EN 16931 allows three lines)."""

    lines: tuple[ShortText, ...] = Field(min_length=1, max_length=3, examples=[["ul. Długa 5"]])
    postal_code: ShortText | None = None
    city: ShortText
    country_code: CountryCode


class Buyer(_Value):
    """Who the invoice is addressed to, with the language they read it in."""

    name: ShortText
    billing_address: PostalAddress
    language: Locale | None = Field(
        default=None,
        description="Buyer locale; fr, en, es, pl, de, it, nl, sv are translated, others get en",
    )
    vat_id: ShortText | None = Field(default=None, description="Business buyers only")


class InvoiceLine(_Value):
    """One sold item: quantity times the unit price before VAT, at one VAT rate."""

    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    label: LongText
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    unit_price_excl_vat: Decimal = Field(ge=0, max_digits=18, decimal_places=6)
    vat_rate: Decimal = Field(ge=0, le=100, decimal_places=2, description="Percent, e.g. 23 or 5.5")


class InvoiceRequest(_Value):
    """The order to invoice, as the marketplace reported it.

    Store, marketplace and order id together name the order: one order gets one
    invoice, so asking again returns the same number and the same stored PDF.
    """

    store_id: Identifier = Field(description="The Parley store the order belongs to")
    marketplace: Identifier = Field(examples=["allegro"])
    order_id: ShortText
    order_date: date
    currency: CurrencyCode
    buyer: Buyer
    lines: Annotated[tuple[InvoiceLine, ...], AfterValidator(_at_least_one_line)] = Field(
        max_length=500
    )
    discussion_id: Identifier | None = Field(
        default=None, description="The Parley discussion the invoice is listed on"
    )


class RefundRequest(_Value):
    """A refund of an invoiced order, to be documented by a credit note.

    The refund id names the refund: asking again with the same id returns the same
    credit note. Without ``lines`` the whole invoice is credited.
    """

    store_id: Identifier
    marketplace: Identifier
    order_id: ShortText
    refund_id: Identifier = Field(description="The marketplace's (or merchant's) refund id")
    reason: LongText | None = None
    lines: tuple[InvoiceLine, ...] | None = Field(default=None, min_length=1, max_length=500)
    discussion_id: Identifier | None = None


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=200)]


class SellerIdentity(_Value):
    """The legal entity issuing the invoice; these mentions are mandatory on EU invoices."""

    legal_name: ShortText
    address: PostalAddress
    vat_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=32)]
    registration: ShortText | None = Field(
        default=None, description="Trade register entry, e.g. 'RCS Paris 123 456 789' or a KRS"
    )
    company_id: ShortText | None = Field(
        default=None,
        description="Legal registration id (SIREN, KRS, HRB...): the e-invoice's seller id",
    )
    email: Email | None = None


class PaymentTerms(_Value):
    """When the invoice is due; marketplace orders are usually paid already (0 days)."""

    due_in_days: int = Field(default=0, ge=0, le=365)
    note: LongText | None = None


def _logo(value: str) -> str:
    if not _LOGO.fullmatch(value):
        raise PydanticCustomError(
            "logo",
            "logo should be a data: URL of a PNG, JPEG or SVG image (base64), at most 256 kB",
        )
    return value


_LOGO = re.compile(r"data:image/(png|jpeg|svg\+xml);base64,[A-Za-z0-9+/=]{4,349528}")
Logo = Annotated[str, AfterValidator(_logo)]


class InvoiceSettings(_Value):
    """A store's invoicing set-up: who sells, how invoices are numbered and paid.

    Credit notes are numbered in the invoices' series unless ``credit_note_prefix``
    names a series of their own (both are allowed in the EU, as long as each series is
    unbroken).
    """

    seller: SellerIdentity
    numbering_prefix: NumberingPrefix = Field(examples=["FA"])
    credit_note_prefix: NumberingPrefix | None = Field(
        default=None, examples=["AV"], description="Own series for credit notes; none: shared"
    )
    payment_terms: PaymentTerms = PaymentTerms()
    time_zone: TimeZoneName = Field(
        default="UTC", description="The seller's time zone: it decides the invoice date"
    )
    default_language: Locale | None = Field(
        default=None, description="Used when the order does not say the buyer's language"
    )
    default_currency: CurrencyCode | None = Field(
        default=None,
        description="For callers completing an order whose marketplace gives no currency; "
        "the order sent to the invoicer always names its currency",
    )
    legal_mentions: tuple[LongText, ...] = Field(
        default=(), max_length=10, description="Printed at the foot, e.g. late payment terms"
    )
    logo: Logo | None = Field(default=None, description="data:image/...;base64,... (no URLs)")
