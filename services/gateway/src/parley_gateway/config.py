"""Gateway settings, from the environment (twelve-factor).

Field names follow the platform convention (no prefix; the gateway's own fields start
with ``gateway_``), so GATEWAY_HOST / GATEWAY_PORT are the variables devstack,
docker-compose and deploy/k8s already set.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from parley_platform.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    gateway_host: str = Field(
        default="127.0.0.1", description="Loopback by default; containers set 0.0.0.0"
    )
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    gateway_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Largest request body accepted; bigger ones get 413 before any parsing",
    )
    gateway_ready_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How long /ready waits for MongoDB: under the probe's own timeout",
    )
    api_key_pepper: SecretStr = Field(
        default=SecretStr(""),
        description="Server-side secret mixed into every API key digest (HMAC key): with "
        "it, a copy of the database alone cannot check a key. Changing it invalidates every "
        "key; set the same value wherever keys are created (the CLI) and checked",
    )

    def pepper(self) -> bytes:
        return self.api_key_pepper.get_secret_value().encode()
