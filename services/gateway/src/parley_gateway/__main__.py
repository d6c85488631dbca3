"""``python -m parley_gateway``: serve the gateway over HTTP with uvicorn."""

from __future__ import annotations

import uvicorn

from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_platform.logging import configure_logging
from parley_platform.settings import load_settings
from parley_platform.tracing import configure_tracing


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otel_traces_exporter)
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,  # keep the JSON logging configured above
        # Finish in-flight requests within Kubernetes' 30 s termination grace period.
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
