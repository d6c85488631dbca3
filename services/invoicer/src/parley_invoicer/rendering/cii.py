"""The invoice as Factur-X / ZUGFeRD XML: UN/CEFACT CII, EN 16931 ("comfort") profile.

Built from the same :class:`~parley_invoicer.domain.invoice.Invoice` as the PDF, so the
printed figures and the machine-readable ones are the very same Decimals. Element
order follows the CII D16B schema (the XSD factur-x ships checks it). Amounts are
written at the currency's minor unit (already rounded by the domain); unit prices keep
their own decimals, which EN 16931 allows for prices.

VAT categories: ``S`` (standard rate) for a positive rate, ``Z`` (zero rated) for 0 %.
Exemptions and reverse charge (``E``, ``AE``, ``K``) need an exemption reason the order
does not carry yet; such invoices are not produced by this module.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.domain.models import PostalAddress
from parley_invoicer.domain.money import round_money

EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"
_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
for _prefix, _uri in _NS.items():
    ET.register_namespace(_prefix, _uri)

UNIT_CODE = "C62"  # UN/ECE rec. 20 "one": marketplace lines are counted in pieces


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), attrs)
    if text is not None:
        element.text = text
    return element


def _date(parent: ET.Element, tag: str, value: date, kind: str = "udt") -> None:
    _sub(_sub(parent, tag), f"{kind}:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _decimal(value: Decimal) -> str:
    """Plain notation (never ``1E+2``), as the XSD's decimal type wants."""
    return f"{value:f}"


def _category(rate: Decimal) -> str:
    return "S" if rate > 0 else "Z"


def _address(parent: ET.Element, address: PostalAddress) -> None:
    postal = _sub(parent, "ram:PostalTradeAddress")
    if address.postal_code:
        _sub(postal, "ram:PostcodeCode", address.postal_code)
    for tag, line in zip(
        ("ram:LineOne", "ram:LineTwo", "ram:LineThree"), address.lines, strict=False
    ):
        _sub(postal, tag, line)
    _sub(postal, "ram:CityName", address.city)
    _sub(postal, "ram:CountryID", address.country_code)


def build_cii_xml(invoice: Invoice) -> bytes:
    """The Factur-X XML (``factur-x.xml``) of ``invoice``, UTF-8 with a declaration."""
    currency = invoice.order.currency

    def money(amount: Decimal) -> str:
        return _decimal(round_money(amount, currency))

    seller = invoice.settings.seller
    buyer = invoice.order.buyer
    totals = invoice.totals

    root = ET.Element(_q("rsm:CrossIndustryInvoice"))
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(
        _sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", EN16931_GUIDELINE
    )

    document = _sub(root, "rsm:ExchangedDocument")
    _sub(document, "ram:ID", invoice.number)
    _sub(document, "ram:TypeCode", invoice.kind.type_code)
    _date(document, "ram:IssueDateTime", invoice.issue_date)
    if invoice.reason:
        _sub(_sub(document, "ram:IncludedNote"), "ram:Content", invoice.reason)
    for mention in invoice.settings.legal_mentions:
        _sub(_sub(document, "ram:IncludedNote"), "ram:Content", mention)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for index, item in enumerate(totals.lines, start=1):
        line_item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _sub(_sub(line_item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(index))
        product = _sub(line_item, "ram:SpecifiedTradeProduct")
        _sub(product, "ram:SellerAssignedID", item.line.sku)
        _sub(product, "ram:Name", item.line.label)
        agreement = _sub(line_item, "ram:SpecifiedLineTradeAgreement")
        price = _sub(agreement, "ram:NetPriceProductTradePrice")
        _sub(price, "ram:ChargeAmount", _decimal(item.line.unit_price_excl_vat))
        delivery = _sub(line_item, "ram:SpecifiedLineTradeDelivery")
        _sub(delivery, "ram:BilledQuantity", _decimal(item.line.quantity), unitCode=UNIT_CODE)
        settlement = _sub(line_item, "ram:SpecifiedLineTradeSettlement")
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:CategoryCode", _category(item.line.vat_rate))
        _sub(tax, "ram:RateApplicablePercent", _decimal(item.line.vat_rate))
        summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "ram:LineTotalAmount", money(item.net_amount))

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller_party = _sub(agreement, "ram:SellerTradeParty")
    _sub(seller_party, "ram:Name", seller.legal_name)
    if seller.company_id:
        _sub(_sub(seller_party, "ram:SpecifiedLegalOrganization"), "ram:ID", seller.company_id)
    _address(seller_party, seller.address)
    if seller.email:
        _sub(
            _sub(seller_party, "ram:URIUniversalCommunication"),
            "ram:URIID",
            seller.email,
            schemeID="EM",
        )
    _sub(_sub(seller_party, "ram:SpecifiedTaxRegistration"), "ram:ID", seller.vat_id, schemeID="VA")
    buyer_party = _sub(agreement, "ram:BuyerTradeParty")
    _sub(buyer_party, "ram:Name", buyer.name)
    _address(buyer_party, buyer.billing_address)
    if buyer.vat_id:
        _sub(
            _sub(buyer_party, "ram:SpecifiedTaxRegistration"), "ram:ID", buyer.vat_id, schemeID="VA"
        )
    order_reference = _sub(agreement, "ram:BuyerOrderReferencedDocument")
    _sub(order_reference, "ram:IssuerAssignedID", invoice.order.order_id)

    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _sub(settlement, "ram:InvoiceCurrencyCode", currency)
    for subtotal in totals.vat_breakdown:
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", money(subtotal.vat_amount))
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:BasisAmount", money(subtotal.taxable_amount))
        _sub(tax, "ram:CategoryCode", _category(subtotal.rate))
        _sub(tax, "ram:RateApplicablePercent", _decimal(subtotal.rate))
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    if invoice.settings.payment_terms.note:
        _sub(terms, "ram:Description", invoice.settings.payment_terms.note)
    _date(terms, "ram:DueDateDateTime", invoice.due_date)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", money(totals.total_excl_vat))
    _sub(summation, "ram:TaxBasisTotalAmount", money(totals.total_excl_vat))
    _sub(summation, "ram:TaxTotalAmount", money(totals.total_vat), currencyID=currency)
    _sub(summation, "ram:GrandTotalAmount", money(totals.total_incl_vat))
    _sub(summation, "ram:DuePayableAmount", money(totals.total_incl_vat))
    if invoice.corrects is not None:
        reference = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(reference, "ram:IssuerAssignedID", invoice.corrects.number)
        _date(reference, "ram:FormattedIssueDateTime", invoice.corrects.issue_date, kind="qdt")

    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml
