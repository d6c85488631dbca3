"""Bootstrap: builds the FastAPI app and wires the service to its adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from parley_invoicer.adapters.memory import InMemorySettingsStore
from parley_invoicer.adapters.mongo import MongoInvoiceLedger, MongoSettingsStore
from parley_invoicer.api import router
from parley_invoicer.config import InvoicerSettings
from parley_invoicer.domain.invoice import Invoice
from parley_invoicer.ports import InvoiceLedger, SettingsStore
from parley_invoicer.problems import install_problem_handlers
from parley_invoicer.rendering.html import InvoiceTemplates
from parley_invoicer.rendering.pdf import WeasyPrintRenderer
from parley_invoicer.service import Clock, InvoiceIssuer, InvoiceRenderer, utc_now
from parley_platform.http_metrics import install_metrics
from parley_platform.metrics import INVOICE_RENDER_DURATION, INVOICES_RENDERED, export
from parley_platform.mongo import connect

logger = logging.getLogger(__name__)


def create_app(
    settings: InvoicerSettings | None = None,
    *,
    ledger: InvoiceLedger | None = None,
    renderer: InvoiceRenderer | None = None,
    settings_store: SettingsStore | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The invoicer's ASGI app; tests pass their own ledger, settings store, renderer
    or clock (a test ledger without a settings store gets an in-memory one).

    The ledger defaults to MongoDB (``MONGODB_URI``/``MONGODB_DATABASE``): numbers are
    then shared by every replica and survive restarts. The client connects lazily and
    is closed with the app. On start-up the app sweeps, in the background, the claims a
    dead process left between claim and binding (see :meth:`InvoiceIssuer.sweep`).
    """
    settings = settings or InvoicerSettings()
    client = None
    if ledger is None:
        client, db = connect(
            settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "invoicer"
        )
        ledger = MongoInvoiceLedger(db)
        settings_store = settings_store or MongoSettingsStore(db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweep = asyncio.create_task(_sweep(app.state.issuer))
        try:
            yield
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            if client is not None:
                await client.close()

    app = FastAPI(
        title="Parley invoicer",
        summary="Issues orders' invoices and refunds' credit notes as Factur-X PDF/A-3, "
        "in the buyer's language, numbered for good and stored once.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.settings_store = settings_store or InMemorySettingsStore()
    templates = InvoiceTemplates(settings.invoicer_template_dir)
    app.state.issuer = InvoiceIssuer(
        ledger=ledger,
        renderer=MeasuredRenderer(renderer or WeasyPrintRenderer(templates)),
        clock=clock,
    )
    install_problem_handlers(app)
    app.include_router(router)
    install_metrics(app, "invoicer")  # GET /metrics and the request latency histogram
    export(INVOICE_RENDER_DURATION)
    return app


async def _sweep(issuer: InvoiceIssuer) -> None:
    """A start-up sweep that only logs its failure: serving invoices does not need it."""
    try:
        resolved = await issuer.sweep()
    except Exception:
        logger.exception("invoice claims sweep failed")
        return
    if resolved:
        logger.warning("invoice claims left in flight resolved", extra={"claims": resolved})


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
