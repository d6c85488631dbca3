"""Responder settings, from the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr

from parley_platform.settings import ServiceSettings


class ResponderSettings(ServiceSettings):
    service_name: str = "responder"
    responder_app_id: str = "parley-responder"
    responder_web_port: int = 6067
    responder_web_bind: str = "127.0.0.1"
    responder_max_attempts: int = Field(default=5, ge=1)
    responder_base_delay_seconds: float = Field(default=1.0, gt=0)
    responder_max_delay_seconds: float = Field(default=60.0, gt=0)
    credentials_key: SecretStr = Field(default=SecretStr(""))
