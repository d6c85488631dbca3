"""Bootstrap: builds the FastAPI app and wires the service to its adapters."""

from __future__ import annotations

from fastapi import FastAPI

from parley_invoicer.api import router
from parley_invoicer.config import InvoicerSettings
from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.numbering import InMemoryInvoiceNumberAllocator, InvoiceNumberAllocator
from parley_invoicer.problems import install_problem_handlers
from parley_invoicer.rendering.pdf import WeasyPrintRenderer
from parley_invoicer.service import Clock, InvoiceIssuer, InvoiceRenderer, utc_now
from parley_platform.http_metrics import install_metrics
from parley_platform.metrics import INVOICE_RENDER_DURATION, INVOICES_RENDERED, export


def create_app(
    settings: InvoicerSettings | None = None,
    *,
    allocator: InvoiceNumberAllocator | None = None,
    renderer: InvoiceRenderer | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The invoicer's ASGI app; tests pass their own allocator, renderer or clock.

    The in-memory allocator is the default until the MongoDB one exists: numbers then
    restart at 1 with every process and are not shared between replicas, so run one
    replica and do not use these numbers as legal invoices yet.
    """
    settings = settings or InvoicerSettings()
    app = FastAPI(
        title="Parley invoicer",
        summary="Renders an order's invoice as PDF, in the buyer's language.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.issuer = InvoiceIssuer(
        allocator=allocator or InMemoryInvoiceNumberAllocator(),
        renderer=MeasuredRenderer(renderer or WeasyPrintRenderer()),
        clock=clock,
    )
    install_problem_handlers(app)
    app.include_router(router)
    install_metrics(app, "invoicer")  # GET /metrics and the request latency histogram
    export(INVOICE_RENDER_DURATION)
    return app


class MeasuredRenderer:
    """Counts renders and their duration (``parley_invoices_rendered``,
    ``parley_invoice_render_duration_seconds``) around the real renderer, so the
    service and the renderer stay free of metrics."""

    def __init__(self, renderer: InvoiceRenderer) -> None:
        self._renderer = renderer

    async def render_pdf(self, invoice: Invoice) -> bytes:
        with INVOICE_RENDER_DURATION.time():
            try:
                pdf = await self._renderer.render_pdf(invoice)
            except Exception:
                INVOICES_RENDERED.labels("error").inc()
                raise
        INVOICES_RENDERED.labels("ok").inc()
        return pdf
