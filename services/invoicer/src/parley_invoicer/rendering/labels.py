"""Printed wording of the invoice, per language.

Labels are data, not templates: one template serves every language, so a layout fix
lands everywhere at once, and a missing translation is a type error rather than an
English word slipping into a Polish invoice.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley_invoicer.domain.language import FALLBACK_LANGUAGE, Language


@dataclass(frozen=True)
class Labels:
    title: str
    invoice_number: str
    issue_date: str
    due_date: str
    order_number: str
    order_date: str
    seller: str
    buyer: str
    vat_id: str
    registration: str
    sku: str
    description: str
    quantity: str
    unit_price: str
    vat_rate: str
    line_amount: str
    vat_breakdown: str
    taxable_amount: str
    vat_amount: str
    total_excl_vat: str
    total_vat: str
    total_incl_vat: str
    payment_terms: str
    currency: str


LABELS: dict[Language, Labels] = {
    Language.EN: Labels(
        title="Invoice",
        invoice_number="Invoice number",
        issue_date="Invoice date",
        due_date="Due date",
        order_number="Order number",
        order_date="Order date",
        seller="Seller",
        buyer="Bill to",
        vat_id="VAT ID",
        registration="Registration",
        sku="SKU",
        description="Description",
        quantity="Qty",
        unit_price="Unit price excl. VAT",
        vat_rate="VAT",
        line_amount="Amount excl. VAT",
        vat_breakdown="VAT breakdown",
        taxable_amount="Taxable amount",
        vat_amount="VAT amount",
        total_excl_vat="Total excl. VAT",
        total_vat="Total VAT",
        total_incl_vat="Total incl. VAT",
        payment_terms="Payment terms",
        currency="Currency",
    ),
    Language.FR: Labels(
        title="Facture",
        invoice_number="N° de facture",
        issue_date="Date de facture",
        due_date="Date d'échéance",
        order_number="N° de commande",
        order_date="Date de commande",
        seller="Vendeur",
        buyer="Facturé à",
        vat_id="N° TVA intracommunautaire",
        registration="Immatriculation",
        sku="Réf.",
        description="Désignation",
        quantity="Qté",
        unit_price="Prix unitaire HT",
        vat_rate="TVA",
        line_amount="Montant HT",
        vat_breakdown="Récapitulatif TVA",
        taxable_amount="Base HT",
        vat_amount="Montant TVA",
        total_excl_vat="Total HT",
        total_vat="Total TVA",
        total_incl_vat="Total TTC",
        payment_terms="Conditions de paiement",
        currency="Devise",
    ),
    Language.ES: Labels(
        title="Factura",
        invoice_number="N.º de factura",
        issue_date="Fecha de factura",
        due_date="Fecha de vencimiento",
        order_number="N.º de pedido",
        order_date="Fecha del pedido",
        seller="Vendedor",
        buyer="Facturar a",
        vat_id="NIF-IVA",
        registration="Registro mercantil",
        sku="Ref.",
        description="Descripción",
        quantity="Cant.",
        unit_price="Precio unitario sin IVA",
        vat_rate="IVA",
        line_amount="Importe sin IVA",
        vat_breakdown="Desglose del IVA",
        taxable_amount="Base imponible",
        vat_amount="Cuota de IVA",
        total_excl_vat="Total sin IVA",
        total_vat="Total IVA",
        total_incl_vat="Total con IVA",
        payment_terms="Condiciones de pago",
        currency="Moneda",
    ),
    Language.PL: Labels(
        title="Faktura",
        invoice_number="Numer faktury",
        issue_date="Data wystawienia",
        due_date="Termin płatności",
        order_number="Numer zamówienia",
        order_date="Data zamówienia",
        seller="Sprzedawca",
        buyer="Nabywca",
        vat_id="NIP / VAT UE",
        registration="Nr rejestrowy",
        sku="Kod",
        description="Nazwa towaru lub usługi",
        quantity="Ilość",
        unit_price="Cena jedn. netto",
        vat_rate="VAT",
        line_amount="Wartość netto",
        vat_breakdown="Zestawienie VAT",
        taxable_amount="Wartość netto",
        vat_amount="Kwota VAT",
        total_excl_vat="Razem netto",
        total_vat="Razem VAT",
        total_incl_vat="Razem brutto",
        payment_terms="Warunki płatności",
        currency="Waluta",
    ),
    Language.DE: Labels(
        title="Rechnung",
        invoice_number="Rechnungsnummer",
        issue_date="Rechnungsdatum",
        due_date="Fälligkeitsdatum",
        order_number="Bestellnummer",
        order_date="Bestelldatum",
        seller="Verkäufer",
        buyer="Rechnungsempfänger",
        vat_id="USt-IdNr.",
        registration="Handelsregister",
        sku="Art.-Nr.",
        description="Bezeichnung",
        quantity="Menge",
        unit_price="Einzelpreis netto",
        vat_rate="USt.",
        line_amount="Betrag netto",
        vat_breakdown="USt.-Aufstellung",
        taxable_amount="Nettobetrag",
        vat_amount="USt.-Betrag",
        total_excl_vat="Summe netto",
        total_vat="Summe USt.",
        total_incl_vat="Gesamtbetrag brutto",
        payment_terms="Zahlungsbedingungen",
        currency="Währung",
    ),
}


def labels_for(language: Language) -> Labels:
    """The wording for ``language``, English if a language was added without labels."""
    return LABELS.get(language, LABELS[FALLBACK_LANGUAGE])
