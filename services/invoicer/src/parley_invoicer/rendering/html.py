"""The invoice as HTML, from Jinja2 templates with per-language labels.

The templates (``invoice.html`` and the ``invoice.css`` it includes) are files a
merchant or an operator can restyle: a directory named by ``INVOICER_TEMPLATE_DIR``
is searched first, so copying ``invoice.css`` there and editing it changes the look
while the packaged ``invoice.html`` still supplies the content; copying both changes
the layout too. The templates receive ``invoice`` (number, dates, kind, corrected
invoice, reason), ``order``, ``seller``, ``buyer``, ``totals``, ``labels``, ``fmt``
(Babel formatting: ``fmt.money``, ``fmt.date``, ``fmt.rate``, ``fmt.quantity``) and
``lang``.

Autoescaping is on for every template whatever its file name: buyer names, addresses
and product labels come from marketplaces and buyers, and must print as text, never
become markup (WeasyPrint would otherwise follow an injected ``<img src>``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
)

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.rendering.formatting import Formatter
from parley_invoicer.rendering.labels import labels_for


class InvoiceTemplates:
    """The template set: the packaged files, behind an optional override directory."""

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders: list[BaseLoader] = []
        if override_dir is not None:
            if not override_dir.is_dir():
                raise ValueError(f"invoice template directory {override_dir} does not exist")
            loaders.append(FileSystemLoader(override_dir))
        loaders.append(PackageLoader("parley_invoicer.rendering", "templates"))
        self._env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, invoice: Invoice) -> str:
        """The complete, self-contained HTML document of ``invoice`` (styles inlined)."""
        template = self._env.get_template("invoice.html")
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


@cache
def _packaged() -> InvoiceTemplates:
    return InvoiceTemplates()


def render_invoice_html(invoice: Invoice) -> str:
    """``invoice`` rendered with the packaged templates."""
    return _packaged().render(invoice)
