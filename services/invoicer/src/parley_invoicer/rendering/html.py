"""The invoice as HTML, from one Jinja2 template with per-language labels.

Autoescaping is on for every template whatever its file name: buyer names, addresses
and product labels come from marketplaces and buyers, and must print as text, never
become markup (WeasyPrint would otherwise follow an injected ``<img src>``).
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.rendering.formatting import Formatter
from parley_invoicer.rendering.labels import labels_for


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("parley_invoicer.rendering", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_invoice_html(invoice: Invoice) -> str:
    """The complete, self-contained HTML document of ``invoice`` (styles inlined)."""
    template = _environment().get_template("invoice.html")
    return template.render(
        invoice=invoice,
        order=invoice.order,
        seller=invoice.settings.seller,
        buyer=invoice.order.buyer,
        totals=invoice.totals,
        labels=labels_for(invoice.language),
        fmt=Formatter(invoice.language, invoice.order.currency),
        lang=invoice.language.value,
    )
