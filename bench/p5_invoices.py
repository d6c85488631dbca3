"""P5: invoices rendered per second per core, against WeasyPrint on the same HTML.

One process, one thread (one core): the invoicer's whole path, from the validated
order to the PDF (Invoice.draw_up, the Jinja2 template with labels and formatting,
WeasyPrint through the service's own renderer, the Factur-X XML built, checked against
its XSD and embedded in the PDF/A-3b), against the baseline: the very HTML
that path produced, rendered by the same WeasyPrint renderer with no data binding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from bench.report import figure
from bench.stats import throughput


def sample_order(lines: int) -> dict[str, Any]:
    return {
        "store_id": "bench-store",
        "marketplace": "carrefour",
        "order_id": "BENCH-ORDER-1",
        "order_date": "2026-03-10",
        "currency": "EUR",
        "buyer": {
            "name": "Camille Martin",
            "language": "fr",
            "billing_address": {
                "lines": ["3 rue des Lilas"],
                "postal_code": "69003",
                "city": "Lyon",
                "country_code": "FR",
            },
        },
        "lines": [
            {
                "sku": f"SKU-{i}",
                "label": f"Article {i}",
                "quantity": str(1 + i % 3),
                "unit_price_excl_vat": f"{10 + i}.50",
                "vat_rate": "20" if i % 2 else "5.5",
            }
            for i in range(lines)
        ],
    }


SETTINGS = {
    "seller": {
        "legal_name": "Maison Dupré SAS",
        "vat_id": "FR40303265045",
        "registration": "RCS Paris 303 265 045",
        "address": {
            "lines": ["12 rue de la Paix"],
            "postal_code": "75002",
            "city": "Paris",
            "country_code": "FR",
        },
    },
    "numbering_prefix": "FA",
}


def timed(work: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        work()
    return time.perf_counter() - start


def run(renders: int, lines: int, progress: Callable[[str], None]) -> dict[str, Any]:
    from parley_invoicer.domain.invoice import Invoice
    from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings
    from parley_invoicer.rendering.html import render_invoice_html
    from parley_invoicer.rendering.pdf import WeasyPrintRenderer

    renderer = WeasyPrintRenderer()
    payload = sample_order(lines)
    settings = InvoiceSettings.model_validate(SETTINGS)
    counter = iter(range(1, 10**9))

    def full() -> bytes:
        order = InvoiceRequest.model_validate(payload)
        invoice = Invoice.draw_up(
            f"FA-2026-{next(counter):06d}", date(2026, 3, 10), order, settings
        )
        return renderer.render(invoice)  # PDF/A-3b with its Factur-X XML, as served

    html = render_invoice_html(
        Invoice.draw_up(
            "FA-2026-000000", date(2026, 3, 10), InvoiceRequest.model_validate(payload), settings
        )
    )

    def bare() -> bytes:
        return renderer.html_to_pdf(html)

    progress("P5: warming up WeasyPrint")
    full(), bare()  # fonts, caches
    progress(f"P5: {renders} invoices of {lines} lines, then the same HTML")
    # Interleaved halves, so a neighbour's load hits both sides alike.
    half = max(1, renders // 2)
    measured = timed(full, half) + timed(full, renders - half)
    baseline = timed(bare, half) + timed(bare, renders - half)
    per_s = throughput(renders, measured)
    base_per_s = throughput(renders, baseline)
    return {
        "title": "invoices rendered per second per core",
        "measures": f"order → invoice → HTML → PDF through the invoicer's code, {renders} "
        f"invoices of {lines} lines, one thread",
        "baseline": "the same HTML rendered by the same WeasyPrint renderer, no data binding; "
        "ratio = invoices/s ÷ baseline/s (1.0: data binding costs nothing)",
        "figures": [
            figure(
                "invoices per second per core", per_s, base_per_s, "1/s", group=f"{lines} lines"
            ),
            figure(
                "seconds per invoice",
                measured / renders,
                baseline / renders,
                "s",
                group=f"{lines} lines",
            ),
        ],
        "notes": [f"PDF size {len(bare()) // 1024} KiB"],
    }
