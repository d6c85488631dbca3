"""``python -m parley_normalizer``: run the normalizer worker."""

from parley_normalizer.app import app, settings
from parley_platform.logging import configure_logging
from parley_platform.streams import run_worker
from parley_platform.tracing import configure_tracing

configure_logging(settings.service_name, settings.log_level)
configure_tracing(settings.service_name, settings.otel_traces_exporter)
run_worker(app, settings)
