"""Responder settings, from the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from parley_platform.settings import ServiceSettings, check_fernet_key
from parley_platform.signed_links import LinkSettings


class ResponderSettings(ServiceSettings, LinkSettings):
    """LinkSettings: the download links of files a marketplace cannot carry (F18)."""

    # Replies need the marketplace credentials, stored encrypted under this key.
    required_at_startup: ClassVar[tuple[str, ...]] = ("credentials_key",)

    service_name: str = "responder"
    responder_app_id: str = "parley-responder"
    responder_web_port: int = Field(default=6067, ge=1, le=65535)
    responder_web_bind: str = "127.0.0.1"
    responder_max_attempts: int = Field(default=5, ge=1)
    responder_base_delay_seconds: float = Field(default=1.0, gt=0)
    responder_max_delay_seconds: float = Field(default=60.0, gt=0)
    # A marketplace's Retry-After is honoured as given up to this (15 min by default);
    # the delivery shows the capped time as next_attempt_at.
    responder_max_retry_after_seconds: float = Field(default=900.0, gt=0)
    # Replies accepted and not yet settled, at most (beyond: the agent waits).
    responder_max_pending: int = Field(default=1000, ge=1)
    responder_batch_max: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Most reply commands the responder accepts in one batch (bulk writes)",
    )
    responder_batch_wait_ms: float = Field(
        default=50.0,
        ge=0,
        le=60_000,
        description="Longest the responder waits for a batch of commands to fill: the "
        "latency a lone reply pays at most before it is accepted",
    )
    # One instance delivers a queued reply at a time, under a lease renewed while it
    # works; a dead instance's replies are taken over this long after it stopped.
    responder_delivery_lease_seconds: float = Field(default=20.0, ge=1)
    credentials_key: SecretStr = Field(default=SecretStr(""))
    # The SMTP relay email-relay replies are submitted to; the default is the local
    # sandbox's sink (sandbox/src/parley_sandbox/smtp_sink.py).
    responder_smtp_host: str = "127.0.0.1"
    responder_smtp_port: int = Field(default=2526, ge=1, le=65535)
    responder_smtp_starttls: bool = False
    responder_smtp_implicit_tls: bool = False
    responder_smtp_username: str = ""
    responder_smtp_password: SecretStr = Field(default=SecretStr(""))
    responder_smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # Autoresponders (F19): the copy to the shop leaves through the same relay, from this
    # address; a buyer message older than this is not autoresponded any more.
    responder_autoresponder_from: str = "autoresponder@parley.example"
    responder_autoresponder_max_age_seconds: float = Field(default=24 * 3600.0, gt=0)

    check_credentials_key = field_validator("credentials_key")(check_fernet_key)

    @property
    def batch_wait_seconds(self) -> float:
        return self.responder_batch_wait_ms / 1000.0
