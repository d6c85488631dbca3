"""Line amounts, the VAT breakdown and the invoice totals.

The order of operations is the EN 16931 one (and what French and Polish tax offices
expect): each line's net amount is rounded to the cent, VAT is then computed once per
rate on the sum of that rate's line amounts and rounded, and the totals are sums of
rounded figures. Computing VAT per line instead would let rounding drift by a cent per
line, and the printed breakdown would no longer add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from parley_invoicer.domain.models import InvoiceLine
from parley_invoicer.domain.money import round_money

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PricedLine:
    """An order line with its rounded amount before VAT."""

    line: InvoiceLine
    net_amount: Decimal


@dataclass(frozen=True)
class VatSubtotal:
    """The VAT due at one rate: what it is charged on, and how much."""

    rate: Decimal
    taxable_amount: Decimal
    vat_amount: Decimal


@dataclass(frozen=True)
class InvoiceTotals:
    """Every figure printed on the invoice, already rounded."""

    lines: tuple[PricedLine, ...]
    vat_breakdown: tuple[VatSubtotal, ...]
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal


def compute_totals(lines: Iterable[InvoiceLine], currency: str) -> InvoiceTotals:
    """Price every line, group VAT per rate (highest rate first), and add it all up."""
    priced = tuple(
        PricedLine(line, round_money(line.quantity * line.unit_price_excl_vat, currency))
        for line in lines
    )
    # Decimal("20") and Decimal("20.0") are the same rate: normalise the key so they
    # share one subtotal.
    taxable_by_rate: dict[Decimal, Decimal] = {}
    for item in priced:
        rate = _canonical_rate(item.line.vat_rate)
        taxable_by_rate[rate] = taxable_by_rate.get(rate, Decimal(0)) + item.net_amount
    breakdown = tuple(
        VatSubtotal(rate, taxable, round_money(taxable * rate / _HUNDRED, currency))
        for rate, taxable in sorted(taxable_by_rate.items(), reverse=True)
    )
    total_excl_vat = sum((item.net_amount for item in priced), Decimal(0))
    total_vat = sum((subtotal.vat_amount for subtotal in breakdown), Decimal(0))
    return InvoiceTotals(
        lines=priced,
        vat_breakdown=breakdown,
        total_excl_vat=round_money(total_excl_vat, currency),
        total_vat=round_money(total_vat, currency),
        total_incl_vat=round_money(total_excl_vat + total_vat, currency),
    )


def _canonical_rate(rate: Decimal) -> Decimal:
    """``20.00`` → ``20``, ``5.50`` → ``5.5``, without the ``2E+1`` that normalize() gives."""
    normalized = rate.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized
