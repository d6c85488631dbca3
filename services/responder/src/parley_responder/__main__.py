"""``python -m parley_responder``: run the responder worker."""

from parley_platform.logging import configure_logging
from parley_platform.streams import run_worker
from parley_platform.tracing import configure_tracing
from parley_responder.app import app, settings

configure_logging(settings.service_name, settings.log_level)
configure_tracing(settings.service_name, settings.otel_traces_exporter)
run_worker(app, settings)
