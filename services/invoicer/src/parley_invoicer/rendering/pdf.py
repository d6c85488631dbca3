"""The PDF adapter: WeasyPrint, kept off the event loop and away from the network.

WeasyPrint is CPU-bound and blocking, so it runs in a worker thread (health probes
keep answering while an invoice renders). Renders are serialised by a lock: the
WeasyPrint maintainers do not promise thread safety (Pango and fontconfig underneath
have crashed under concurrent use), and throughput comes from replicas, not threads.

The URL fetcher only allows ``data:`` URLs: an invoice needs nothing from the network
or the file system, so even markup that slipped past escaping could not make the
renderer fetch an internal URL or read a local file.
"""

from __future__ import annotations

import asyncio
import threading

from weasyprint import HTML
from weasyprint.urls import URLFetcher

from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.rendering.html import render_invoice_html


class WeasyPrintRenderer:
    """Renders invoices to PDF through their HTML."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=False)

    async def render_pdf(self, invoice: Invoice) -> bytes:
        html = render_invoice_html(invoice)
        return await asyncio.to_thread(self.html_to_pdf, html)

    def html_to_pdf(self, html: str) -> bytes:
        """Blocking HTML → PDF; public for tools and tests that render outside a loop."""
        with self._lock:
            pdf: bytes = HTML(string=html, url_fetcher=self._fetcher).write_pdf(pdf_tags=True)
        return pdf
