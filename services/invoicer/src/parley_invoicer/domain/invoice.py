"""The issued document: an invoice or a credit note, with its number, dates and totals fixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from parley_invoicer.domain.language import Language, invoice_language
from parley_invoicer.domain.models import InvoiceLine, InvoiceRequest, InvoiceSettings
from parley_invoicer.domain.totals import InvoiceTotals, compute_totals


class DocumentKind(StrEnum):
    """What the document is, with its UNTDID 1001 code (the e-invoice's TypeCode)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def type_code(self) -> str:
        return "380" if self is DocumentKind.INVOICE else "381"


@dataclass(frozen=True)
class InvoiceReference:
    """The invoice a credit note corrects (EN 16931 BG-3: its number and date)."""

    number: str
    issue_date: date


@dataclass(frozen=True)
class Invoice:
    """Everything a renderer needs, decided once, so every rendering says the same thing.

    A credit note is the same document with kind ``CREDIT_NOTE``, the refunded lines
    (amounts positive, as EN 16931 wants for type 381) and the invoice it corrects.
    """

    number: str
    issue_date: date
    due_date: date
    language: Language
    order: InvoiceRequest
    settings: InvoiceSettings
    totals: InvoiceTotals
    kind: DocumentKind = DocumentKind.INVOICE
    corrects: InvoiceReference | None = None
    reason: str | None = None

    @classmethod
    def draw_up(
        cls, number: str, issue_date: date, order: InvoiceRequest, settings: InvoiceSettings
    ) -> Invoice:
        """Fix the figures, the due date and the language of the invoice numbered ``number``."""
        return cls(
            number=number,
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=settings.payment_terms.due_in_days),
            language=invoice_language(order.buyer.language or settings.default_language),
            order=order,
            settings=settings,
            totals=compute_totals(order.lines, order.currency),
        )

    @classmethod
    def credit_note(
        cls,
        number: str,
        issue_date: date,
        order: InvoiceRequest,
        settings: InvoiceSettings,
        corrects: InvoiceReference,
        lines: tuple[InvoiceLine, ...] | None = None,
        reason: str | None = None,
    ) -> Invoice:
        """The credit note ``number`` refunding ``lines`` (all of the order's by default)."""
        credited = order if lines is None else order.model_copy(update={"lines": lines})
        return cls(
            number=number,
            issue_date=issue_date,
            due_date=issue_date,
            language=invoice_language(order.buyer.language or settings.default_language),
            order=credited,
            settings=settings,
            totals=compute_totals(credited.lines, order.currency),
            kind=DocumentKind.CREDIT_NOTE,
            corrects=corrects,
            reason=reason,
        )
