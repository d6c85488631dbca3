"""Invoicer settings, from the environment (twelve-factor).

Field names follow the platform convention (no prefix, the service's own fields start
with ``invoicer_``), so INVOICER_HOST / INVOICER_PORT / LOG_LEVEL are the variables
devstack, docker-compose and the Helm chart (deploy/helm/parley) already set.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from parley_platform.settings import ServiceSettings


class InvoicerSettings(ServiceSettings):
    service_name: str = "invoicer"
    invoicer_host: str = Field(
        default="127.0.0.1", description="Loopback by default; containers set 0.0.0.0"
    )
    invoicer_port: int = Field(default=8300, ge=1, le=65535)
    invoicer_template_dir: Path | None = Field(
        default=None,
        description="INVOICER_TEMPLATE_DIR: a directory searched before the packaged "
        "templates; an invoice.css (or invoice.html) there restyles every invoice",
    )
