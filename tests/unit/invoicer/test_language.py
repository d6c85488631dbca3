"""Invoices come out in the buyer's language, and in English when we lack it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.domain.language import Language, invoice_language
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.rendering.html import render_invoice_html
from parley_invoicer.rendering.labels import LABELS, labels_for

MakeOrder = Callable[..., InvoiceRequest]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("pl", Language.PL),
        ("pl-PL", Language.PL),
        ("pl_PL", Language.PL),
        ("PL", Language.PL),
        ("de-AT", Language.DE),
        ("fr-BE", Language.FR),
        ("es", Language.ES),
        ("en-GB", Language.EN),
        ("it", Language.IT),
        ("sv-SE", Language.SV),
        ("nl-BE", Language.NL),
        ("pt-PT", Language.EN),
        ("", Language.EN),
        (None, Language.EN),
    ],
)
def test_the_buyer_locale_picks_the_language_with_english_as_fallback(
    locale: str | None, expected: Language
) -> None:
    assert invoice_language(locale) is expected


def test_every_language_has_its_labels() -> None:
    assert set(LABELS) == set(Language)


@pytest.mark.parametrize(
    ("locale", "title", "total_label"),
    [
        ("en", "Invoice", "Total incl. VAT"),
        ("fr", "Facture", "Total TTC"),
        ("es", "Factura", "Total con IVA"),
        ("pl", "Faktura", "Razem brutto"),
        ("de", "Rechnung", "Gesamtbetrag brutto"),
        ("it-IT", "Fattura", "Totale documento"),
        ("nl", "Factuur", "Totaal incl. btw"),
        ("sv", "Faktura", "Att betala inkl. moms"),
        ("pt-BR", "Invoice", "Total incl. VAT"),
    ],
)
def test_the_html_is_written_in_the_selected_language(
    make_order: MakeOrder, settings: InvoiceSettings, locale: str, title: str, total_label: str
) -> None:
    invoice = Invoice.draw_up(
        "FA-2026-000001", date(2026, 3, 12), make_order(buyer={"language": locale}), settings
    )

    html = render_invoice_html(invoice)

    assert f"<h1>{title}</h1>" in html
    assert total_label in html
    assert f'<html lang="{invoice.language.value}">' in html


def test_labels_for_a_language_without_labels_fall_back_to_english() -> None:
    assert labels_for(Language.EN).title == "Invoice"
    assert labels_for(Language.PL).title == "Faktura"
