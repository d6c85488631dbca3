"""``python -m parley_invoicer``: serve the invoicer over HTTP with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from parley_invoicer.config import InvoicerSettings
from parley_invoicer.main import create_app
from parley_platform.logging import configure_logging
from parley_platform.settings import load_settings
from parley_platform.tracing import configure_tracing


def main() -> None:
    settings = load_settings(InvoicerSettings)
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otel_traces_exporter)
    # Per-step progress, font-subsetting and Factur-X embedding chatter: a dozen lines
    # per invoice at INFO.
    for chatty in ("weasyprint.progress", "fontTools", "factur-x"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.invoicer_host,
        port=settings.invoicer_port,
        log_config=None,  # keep the JSON logging configured above
        # Finish in-flight renders within Kubernetes' 30 s termination grace period.
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
