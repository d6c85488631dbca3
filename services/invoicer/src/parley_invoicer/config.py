"""Invoicer settings, from the environment (twelve-factor).

Field names follow the platform convention (no prefix, the service's own fields start
with ``invoicer_``), so INVOICER_HOST / INVOICER_PORT / LOG_LEVEL are the variables
devstack, docker-compose and deploy/k8s already set. Meant to become a subclass of
``parley_platform.settings.ServiceSettings`` once the invoicer adopts the shared lib.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InvoicerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "invoicer"
    log_level: str = "INFO"
    invoicer_host: str = Field(
        default="127.0.0.1", description="Loopback by default; containers set 0.0.0.0"
    )
    invoicer_port: int = Field(default=8300, ge=1, le=65535)
