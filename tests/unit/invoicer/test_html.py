"""The invoice HTML: buyer-provided text stays text, and the figures are all there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.domain.language import Language
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.rendering.formatting import Formatter
from parley_invoicer.rendering.html import render_invoice_html

MakeOrder = Callable[..., InvoiceRequest]
Line = Callable[[str, str, str, str], dict[str, Any]]

NBSP = "\u00a0"


def draw_up(order: InvoiceRequest, settings: InvoiceSettings) -> Invoice:
    return Invoice.draw_up("FA-2026-000007", date(2026, 3, 12), order, settings)


def test_markup_in_buyer_text_is_escaped(
    make_order: MakeOrder, settings: InvoiceSettings, line: Line
) -> None:
    hostile_line = {**line("X", "1", "1", "20"), "label": '<img src="http://169.254.169.254/">'}
    order = make_order(
        buyer={
            "name": "Eve <script>alert('x')</script> & Co",
            "billing_address": {
                "lines": ["<b>1</b> Main St"],
                "city": "Nice",
                "country_code": "FR",
            },
        },
        lines=[hostile_line],
    )

    html = render_invoice_html(draw_up(order, settings))

    assert "<script>" not in html
    assert "Eve &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;1&lt;/b&gt; Main St" in html
    assert "<img" not in html
    assert "&lt;img src=&#34;http://169.254.169.254/&#34;&gt;" in html


def test_seller_text_is_escaped_too(make_order: MakeOrder, settings: InvoiceSettings) -> None:
    seller = settings.seller.model_copy(update={"legal_name": "A&B <Ltd>"})
    settings = settings.model_copy(update={"seller": seller})

    html = render_invoice_html(draw_up(make_order(), settings))

    assert "A&amp;B &lt;Ltd&gt;" in html
    assert "<Ltd>" not in html


def test_the_html_carries_the_mandatory_mentions(
    make_order: MakeOrder, settings: InvoiceSettings, line: Line
) -> None:
    order = make_order(
        buyer={"language": "en", "vat_id": "FR12345678901"},
        lines=[line("MUG-01", "2", "12.50", "20"), line("BOOK-7", "1", "10", "5.5")],
    )

    html = render_invoice_html(draw_up(order, settings))

    for mention in [
        "FA-2026-000007",  # number
        "12 Mar 2026",  # issue date
        "ORDER-1",
        "Maison Dupré SAS",
        "FR40303265045",  # seller VAT id
        "RCS Paris 303 265 045",
        "FR12345678901",  # buyer VAT id
        "Camille Martin",
        "MUG-01",
        f"EUR{NBSP}25.00",  # line amount
        "5.5%",
        f"EUR{NBSP}0.55",  # VAT at 5.5 %
        f"EUR{NBSP}5.00",  # VAT at 20 %
        f"EUR{NBSP}40.55",  # grand total
    ]:
        assert mention in html, mention


def test_figures_follow_each_language_conventions() -> None:
    amount = Decimal("1234.50")

    assert Formatter(Language.EN, "EUR").money(amount) == f"EUR{NBSP}1,234.50"
    assert Formatter(Language.DE, "EUR").money(amount) == f"1.234,50{NBSP}EUR"
    assert Formatter(Language.ES, "EUR").money(amount) == f"1.234,50{NBSP}EUR"
    assert Formatter(Language.PL, "PLN").money(amount) == f"1{NBSP}234,50{NBSP}PLN"
    assert Formatter(Language.FR, "EUR").money(amount) == f"1\u202f234,50{NBSP}EUR"
    assert Formatter(Language.FR, "EUR").rate(Decimal("5.5")) == f"5,5{NBSP}%"
    assert Formatter(Language.PL, "PLN").quantity(Decimal("2.500")) == "2,5"
    assert Formatter(Language.PL, "PLN").quantity(Decimal("100")) == "100"
    assert Formatter(Language.DE, "EUR").date(date(2026, 3, 2)) == "02.03.2026"
    assert Formatter(Language.IT, "EUR").money(amount) == f"1.234,50{NBSP}EUR"
    assert Formatter(Language.NL, "EUR").money(amount) == f"EUR{NBSP}1.234,50"
    assert Formatter(Language.SV, "SEK").money(amount) == f"1{NBSP}234,50{NBSP}SEK"
    assert Formatter(Language.SV, "SEK").date(date(2026, 3, 2)) == "2 mars 2026"
    assert Formatter(Language.NL, "EUR").date(date(2026, 3, 2)) == "2 mrt 2026"
    assert Formatter(Language.EN, "EUR").date(date(2026, 3, 2)) == "2 Mar 2026"


def test_unit_prices_keep_their_decimals_while_amounts_show_cents() -> None:
    fmt = Formatter(Language.EN, "EUR")

    assert fmt.money(Decimal("8.1301")) == f"EUR{NBSP}8.1301"
    assert fmt.money(Decimal("8")) == f"EUR{NBSP}8.00"
    assert Formatter(Language.EN, "JPY").money(Decimal("1101")) == f"JPY{NBSP}1,101"
    assert Formatter(Language.FR, "JPY").money(Decimal("1101")) == f"1\u202f101{NBSP}JPY"
