"""Line amounts, VAT per rate and totals: the figures the tax office checks."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from parley_invoicer.domain.models import InvoiceRequest
from parley_invoicer.domain.totals import VatSubtotal, compute_totals

MakeOrder = Callable[..., InvoiceRequest]
Line = Callable[[str, str, str, str], dict[str, Any]]


def test_several_rates_are_grouped_and_rounded_per_rate(make_order: MakeOrder, line: Line) -> None:
    order = make_order(
        currency="PLN",
        lines=[
            line("MUG", "3", "24.39", "23"),  # 73.17 → VAT 16.8291
            line("BOOK", "1", "47.62", "5"),  # 47.62 → VAT 2.381
            line("TEA", "2.5", "1000.10", "8"),  # 2500.25 → VAT 200.02
            line("CUP", "1", "10.00", "23"),  # joins the 23 % group
        ],
    )

    totals = compute_totals(order.lines, order.currency)

    assert [item.net_amount for item in totals.lines] == [
        Decimal("73.17"),
        Decimal("47.62"),
        Decimal("2500.25"),
        Decimal("10.00"),
    ]
    assert totals.vat_breakdown == (
        VatSubtotal(Decimal("23"), Decimal("83.17"), Decimal("19.13")),  # 19.1291
        VatSubtotal(Decimal("8"), Decimal("2500.25"), Decimal("200.02")),
        VatSubtotal(Decimal("5"), Decimal("47.62"), Decimal("2.38")),
    )
    assert totals.total_excl_vat == Decimal("2631.04")
    assert totals.total_vat == Decimal("221.53")
    assert totals.total_incl_vat == Decimal("2852.57")


def test_line_amounts_round_half_up_to_the_cent(make_order: MakeOrder, line: Line) -> None:
    # 3 * 0.335 = 1.005: banker's rounding would give 1.00, commercial rounding 1.01.
    order = make_order(lines=[line("A", "3", "0.335", "20"), line("B", "1", "0.125", "20")])

    totals = compute_totals(order.lines, order.currency)

    assert [item.net_amount for item in totals.lines] == [Decimal("1.01"), Decimal("0.13")]


def test_vat_is_computed_on_the_rate_total_not_summed_per_line(
    make_order: MakeOrder, line: Line
) -> None:
    # Each line: 0.05 * 10 % = 0.005 → 0.01 if rounded per line (0.03 for three lines);
    # on the rate total, 0.15 * 10 % = 0.015 → 0.02, which is what EN 16931 prescribes.
    order = make_order(lines=[line(sku, "1", "0.05", "10") for sku in "ABC"])

    totals = compute_totals(order.lines, order.currency)

    assert totals.vat_breakdown == (VatSubtotal(Decimal("10"), Decimal("0.15"), Decimal("0.02")),)
    assert totals.total_incl_vat == Decimal("0.17")


def test_equal_rates_written_differently_share_one_subtotal(
    make_order: MakeOrder, line: Line
) -> None:
    order = make_order(
        lines=[
            line("A", "1", "10", "5.5"),
            line("B", "1", "10", "5.50"),
            line("C", "1", "1", "20.0"),
        ]
    )

    totals = compute_totals(order.lines, order.currency)

    assert [(s.rate, s.taxable_amount, s.vat_amount) for s in totals.vat_breakdown] == [
        (Decimal("20"), Decimal("1.00"), Decimal("0.20")),
        (Decimal("5.5"), Decimal("20.00"), Decimal("1.10")),
    ]
    assert str(totals.vat_breakdown[0].rate) == "20"


def test_zero_rated_and_free_lines_count_for_nothing(make_order: MakeOrder, line: Line) -> None:
    order = make_order(lines=[line("GIFT", "1", "0", "20"), line("BOOK", "2", "7.50", "0")])

    totals = compute_totals(order.lines, order.currency)

    assert totals.total_excl_vat == Decimal("15.00")
    assert totals.total_vat == Decimal("0.00")
    assert totals.total_incl_vat == Decimal("15.00")


def test_amounts_round_to_the_currency_minor_unit(make_order: MakeOrder, line: Line) -> None:
    # Yen have no minor unit; Kuwaiti dinars have three decimals.
    yen = make_order(currency="JPY", lines=[line("A", "3", "333.5", "10")])
    dinar = make_order(currency="KWD", lines=[line("A", "1", "1.2345", "5")])

    assert compute_totals(yen.lines, yen.currency).total_incl_vat == Decimal("1101")
    assert compute_totals(dinar.lines, dinar.currency).total_incl_vat == Decimal("1.297")
