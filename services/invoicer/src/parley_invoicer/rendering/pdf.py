"""The PDF adapter: WeasyPrint for PDF/A-3b, factur-x for the embedded e-invoice.

An invoice leaves here as a PDF/A-3b (archivable: fonts embedded, an sRGB output
intent) carrying its Factur-X XML (EN 16931 profile) as ``factur-x.xml``, the
"hybrid" invoice French, German (ZUGFeRD) and EU buyers' software reads. factur-x
checks the XML against the CII XSD it ships before embedding it, so an invoice whose
XML is invalid is an error here, never a document sent to a buyer.

WeasyPrint is CPU-bound and blocking, so it runs in a worker thread (health probes
keep answering while an invoice renders). Renders are serialised by a lock: the
WeasyPrint maintainers do not promise thread safety (Pango and fontconfig underneath
have crashed under concurrent use), and throughput comes from replicas, not threads.

The URL fetcher only allows ``data:`` URLs: an invoice needs nothing from the network
or the file system (a logo is a data URL), so even markup that slipped past escaping
could not make the renderer fetch an internal URL or read a local file.
"""

from __future__ import annotations

import asyncio
import threading
from typing import cast

import facturx  # type: ignore[import-untyped]
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from parley_invoicer.domain.invoice import DocumentKind, Invoice
from parley_invoicer.rendering.cii import build_cii_xml
from parley_invoicer.rendering.html import InvoiceTemplates
from parley_invoicer.rendering.labels import labels_for

PDF_VARIANT = "pdf/a-3b"
FACTURX_LEVEL = "en16931"


class WeasyPrintRenderer:
    """Renders invoices to PDF/A-3b with their Factur-X XML embedded."""

    def __init__(self, templates: InvoiceTemplates | None = None) -> None:
        self._templates = templates or InvoiceTemplates()
        self._lock = threading.Lock()
        self._fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=False)

    async def render_pdf(self, invoice: Invoice) -> bytes:
        return await asyncio.to_thread(self.render, invoice)

    def render(self, invoice: Invoice) -> bytes:
        """Blocking invoice → Factur-X PDF; public for tools and benchmarks."""
        pdf = self.html_to_pdf(self._templates.render(invoice))
        return embed_facturx(pdf, build_cii_xml(invoice), invoice)

    def html_to_pdf(self, html: str) -> bytes:
        """Blocking HTML → PDF/A-3b, without e-invoice XML."""
        with self._lock:
            pdf: bytes = HTML(string=html, url_fetcher=self._fetcher).write_pdf(
                pdf_variant=PDF_VARIANT, pdf_tags=True
            )
        return pdf


def embed_facturx(pdf: bytes, xml: bytes, invoice: Invoice) -> bytes:
    """``pdf`` with ``xml`` attached as its Factur-X invoice, the XML checked first
    against the EN 16931 XSD (factur-x raises on an invalid one)."""
    labels = labels_for(invoice.language)
    title = labels.credit_note_title if invoice.kind is DocumentKind.CREDIT_NOTE else labels.title
    metadata = {
        "author": invoice.settings.seller.legal_name,
        "keywords": "Factur-X, EN 16931",
        "title": f"{title} {invoice.number}",
        "subject": f"{title} {invoice.number} — {invoice.order.order_id}",
    }
    return cast(
        bytes,
        facturx.generate_from_binary(
            pdf,
            xml,
            flavor="factur-x",
            level=FACTURX_LEVEL,
            check_xsd=True,
            pdf_metadata=metadata,
            lang=invoice.language.value,
        ),
    )
