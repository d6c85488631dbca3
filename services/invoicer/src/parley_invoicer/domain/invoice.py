"""The issued invoice: an order, a seller, a number and a date, with its totals fixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from parley_invoicer.domain.language import Language, invoice_language
from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
from parley_invoicer.domain.totals import InvoiceTotals, compute_totals


@dataclass(frozen=True)
class Invoice:
    """Everything a renderer needs, decided once, so every rendering says the same thing."""

    number: str
    issue_date: date
    due_date: date
    language: Language
    order: InvoiceRequest
    settings: InvoiceSettings
    totals: InvoiceTotals

    @classmethod
    def draw_up(
        cls, number: str, issue_date: date, order: InvoiceRequest, settings: InvoiceSettings
    ) -> Invoice:
        """Fix the figures, the due date and the language of the invoice numbered ``number``."""
        return cls(
            number=number,
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=settings.payment_terms.due_in_days),
            language=invoice_language(order.buyer.language),
            order=order,
            settings=settings,
            totals=compute_totals(order.lines, order.currency),
        )
