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
    credit_note_title: str
    credit_note_number: str
    corrects_invoice: str
    reason: str


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
        credit_note_title="Credit note",
        credit_note_number="Credit note number",
        corrects_invoice="Credits invoice",
        reason="Reason",
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
        credit_note_title="Avoir",
        credit_note_number="N° d'avoir",
        corrects_invoice="Avoir sur facture",
        reason="Motif",
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
        credit_note_title="Factura rectificativa",
        credit_note_number="N.º de factura rectificativa",
        corrects_invoice="Rectifica la factura",
        reason="Motivo",
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
        credit_note_title="Faktura korygująca",
        credit_note_number="Numer faktury korygującej",
        corrects_invoice="Koryguje fakturę",
        reason="Przyczyna korekty",
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
        credit_note_title="Gutschrift",
        credit_note_number="Gutschriftnummer",
        corrects_invoice="Korrektur zur Rechnung",
        reason="Grund",
    ),
    Language.IT: Labels(
        title="Fattura",
        invoice_number="Numero fattura",
        issue_date="Data fattura",
        due_date="Data di scadenza",
        order_number="Numero ordine",
        order_date="Data ordine",
        seller="Venditore",
        buyer="Intestatario",
        vat_id="Partita IVA",
        registration="Registro delle imprese",
        sku="Cod.",
        description="Descrizione",
        quantity="Qtà",
        unit_price="Prezzo unitario IVA esclusa",
        vat_rate="IVA",
        line_amount="Importo IVA esclusa",
        vat_breakdown="Riepilogo IVA",
        taxable_amount="Imponibile",
        vat_amount="Imposta",
        total_excl_vat="Totale imponibile",
        total_vat="Totale IVA",
        total_incl_vat="Totale documento",
        payment_terms="Condizioni di pagamento",
        currency="Valuta",
        credit_note_title="Nota di credito",
        credit_note_number="Numero nota di credito",
        corrects_invoice="Rettifica la fattura",
        reason="Causale",
    ),
    Language.NL: Labels(
        title="Factuur",
        invoice_number="Factuurnummer",
        issue_date="Factuurdatum",
        due_date="Vervaldatum",
        order_number="Bestelnummer",
        order_date="Besteldatum",
        seller="Verkoper",
        buyer="Factuuradres",
        vat_id="Btw-nummer",
        registration="KvK-nummer",
        sku="Art.nr.",
        description="Omschrijving",
        quantity="Aantal",
        unit_price="Stukprijs excl. btw",
        vat_rate="Btw",
        line_amount="Bedrag excl. btw",
        vat_breakdown="Btw-specificatie",
        taxable_amount="Grondslag",
        vat_amount="Btw-bedrag",
        total_excl_vat="Totaal excl. btw",
        total_vat="Totaal btw",
        total_incl_vat="Totaal incl. btw",
        payment_terms="Betalingsvoorwaarden",
        currency="Valuta",
        credit_note_title="Creditnota",
        credit_note_number="Creditnotanummer",
        corrects_invoice="Crediteert factuur",
        reason="Reden",
    ),
    Language.SV: Labels(
        title="Faktura",
        invoice_number="Fakturanummer",
        issue_date="Fakturadatum",
        due_date="Förfallodatum",
        order_number="Ordernummer",
        order_date="Orderdatum",
        seller="Säljare",
        buyer="Faktureras till",
        vat_id="Momsregistreringsnummer",
        registration="Organisationsnummer",
        sku="Art.nr",
        description="Beskrivning",
        quantity="Antal",
        unit_price="À-pris exkl. moms",
        vat_rate="Moms",
        line_amount="Belopp exkl. moms",
        vat_breakdown="Momsspecifikation",
        taxable_amount="Underlag",
        vat_amount="Momsbelopp",
        total_excl_vat="Summa exkl. moms",
        total_vat="Summa moms",
        total_incl_vat="Att betala inkl. moms",
        payment_terms="Betalningsvillkor",
        currency="Valuta",
        credit_note_title="Kreditfaktura",
        credit_note_number="Kreditfakturanummer",
        corrects_invoice="Krediterar faktura",
        reason="Orsak",
    ),
}


def labels_for(language: Language) -> Labels:
    """The wording for ``language``, English if a language was added without labels."""
    return LABELS.get(language, LABELS[FALLBACK_LANGUAGE])
