"""Property: whatever the order, the figures of an invoice agree with each other.

Line amounts, the VAT per rate and the totals are each rounded to the currency's minor
unit (ISO 4217: EUR, SEK, PLN 2 decimals, JPY 0, KWD 3); these tests let hypothesis
look for an order where a printed figure would not add up, in any of those currencies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision
from hypothesis import given, settings
from hypothesis import strategies as st

from parley_invoicer.domain.models import InvoiceLine
from parley_invoicer.domain.money import minor_units, round_money
from parley_invoicer.domain.totals import compute_totals

CURRENCIES = ("EUR", "SEK", "PLN", "JPY", "KWD", "CHF")
RATES = [
    Decimal(r) for r in ("0", "2.1", "5", "5.5", "7", "8", "10", "12", "19", "20", "21", "23", "25")
]


def _decimal(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(low), max_value=Decimal(high), places=places, allow_nan=False
    )


lines = st.lists(
    st.builds(
        InvoiceLine,
        sku=st.from_regex(r"[A-Z]{1,4}-[0-9]{1,3}", fullmatch=True),
        label=st.just("Item"),
        quantity=_decimal("0.001", "9999", 3),
        unit_price_excl_vat=_decimal("0", "99999", 6),
        vat_rate=st.sampled_from(RATES),
    ),
    min_size=1,
    max_size=30,
)


def _at_minor_unit(amount: Decimal, currency: str) -> bool:
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and -exponent == minor_units(currency)


@settings(max_examples=300, deadline=None)
@given(lines=lines, currency=st.sampled_from(CURRENCIES))
def test_line_totals_vat_per_rate_and_grand_total_always_agree(
    lines: list[InvoiceLine], currency: str
) -> None:
    totals = compute_totals(lines, currency)

    # Each line is its quantity times its price, rounded half up once.
    for item in totals.lines:
        exact = item.line.quantity * item.line.unit_price_excl_vat
        assert item.net_amount == round_money(exact, currency)
        assert abs(item.net_amount - exact) <= Decimal(1).scaleb(-minor_units(currency)) / 2
    # The breakdown has one entry per rate, each the sum of its lines at that rate...
    rates = {item.line.vat_rate.normalize() for item in totals.lines}
    assert {s.rate.normalize() for s in totals.vat_breakdown} == rates
    for subtotal in totals.vat_breakdown:
        taxable = sum(
            (i.net_amount for i in totals.lines if i.line.vat_rate == subtotal.rate), Decimal(0)
        )
        assert subtotal.taxable_amount == taxable
        # ... and its VAT is that sum times the rate, rounded once (not per line).
        assert subtotal.vat_amount == (taxable * subtotal.rate / 100).quantize(
            Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP
        )
    # The totals are sums of the printed figures, so the printed document adds up.
    assert totals.total_excl_vat == sum((i.net_amount for i in totals.lines), Decimal(0))
    assert totals.total_excl_vat == sum(
        (s.taxable_amount for s in totals.vat_breakdown), Decimal(0)
    )
    assert totals.total_vat == sum((s.vat_amount for s in totals.vat_breakdown), Decimal(0))
    assert totals.total_incl_vat == totals.total_excl_vat + totals.total_vat
    # Every printed amount is at the currency's minor unit, no more, no fewer decimals.
    printed = [i.net_amount for i in totals.lines] + [
        totals.total_excl_vat,
        totals.total_vat,
        totals.total_incl_vat,
    ]
    printed += [s.vat_amount for s in totals.vat_breakdown]
    assert all(_at_minor_unit(amount, currency) for amount in printed)


@given(currency=st.sampled_from(("EUR", "SEK", "PLN", "JPY", "CHF", "GBP", "KWD", "BHD")))
def test_minor_units_agree_with_babel(currency: str) -> None:
    """The ISO 4217 table the invoicer rounds with is the one CLDR (Babel) formats with."""
    assert minor_units(currency) == get_currency_precision(currency)


def test_minor_units_of_the_listed_currencies() -> None:
    assert [minor_units(c) for c in ("EUR", "SEK", "PLN", "JPY", "KWD")] == [2, 2, 2, 0, 3]
