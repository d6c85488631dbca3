"""``python -m parley_ingest``: the scheduler and its HTTP probes."""

import uvicorn

from parley_ingest.app import create_app
from parley_ingest.config import IngestSettings
from parley_platform.logging import configure_logging
from parley_platform.settings import load_settings
from parley_platform.tracing import configure_tracing

settings = load_settings(IngestSettings)
configure_logging(settings.service_name, settings.log_level)
configure_tracing(settings.service_name, settings.otel_traces_exporter)
uvicorn.run(
    create_app(settings), host=settings.ingest_host, port=settings.ingest_port, log_config=None
)
