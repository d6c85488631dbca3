"""What a refund may credit: only what the invoice charged.

A credit note that refunds an item the invoice never listed, more pieces than were
sold, or at another VAT rate would correct nothing the buyer paid, and the seller's VAT
return would then be wrong; such a refund is refused before a number is spent.
"""

from __future__ import annotations

from decimal import Decimal

from parley_invoicer.domain.models import InvoiceLine


def refund_line_problems(
    invoiced: tuple[InvoiceLine, ...], refunded: tuple[InvoiceLine, ...]
) -> dict[str, str]:
    """Each refunded line that the invoice does not cover, as ``{"<index>/<field>":
    message}``; empty when the refund is within the invoice."""
    sold: dict[str, Decimal] = {}
    rates: dict[str, set[Decimal]] = {}
    for line in invoiced:
        sold[line.sku] = sold.get(line.sku, Decimal(0)) + line.quantity
        rates.setdefault(line.sku, set()).add(line.vat_rate)
    problems: dict[str, str] = {}
    for index, line in enumerate(refunded):
        if line.sku not in sold:
            problems[f"{index}/sku"] = f"SKU {line.sku} is not on the invoice"
            continue
        if line.vat_rate not in rates[line.sku]:
            problems[f"{index}/vat_rate"] = (
                f"SKU {line.sku} was invoiced at {', '.join(map(str, sorted(rates[line.sku])))} %"
            )
        sold[line.sku] -= line.quantity
        if sold[line.sku] < 0:
            problems[f"{index}/quantity"] = f"more SKU {line.sku} refunded than invoiced"
    return problems
