"""Ingest settings, from the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from parley_platform.settings import ServiceSettings, check_fernet_key


class IngestSettings(ServiceSettings):
    # Connections are stored encrypted: ingest cannot read or save one without it.
    required_at_startup: ClassVar[tuple[str, ...]] = ("credentials_key",)

    service_name: str = "ingest"
    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=8100, ge=1, le=65535)
    ingest_group_id: str = "parley-ingest"
    ingest_default_interval_seconds: int = Field(default=300, ge=1)
    ingest_tick_seconds: float = Field(default=1.0, gt=0)
    ingest_lease_seconds: int = Field(default=120, ge=5)
    ingest_max_concurrent_syncs: int = Field(default=8, ge=1)
    ingest_max_attachment_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    ingest_instance_id: str = Field(default="", description="Defaults to host:pid")
    # Inbound mail of the email-relay family (Amazon, CDON): see adapters/smtp_server.py.
    ingest_smtp_enabled: bool = True
    ingest_smtp_host: str = "127.0.0.1"
    ingest_smtp_port: int = Field(default=2525, ge=0, le=65535)
    ingest_smtp_max_message_bytes: int = Field(default=40 * 1024 * 1024, ge=1024)
    ingest_inbound_domain: str = Field(
        default="inbound.parley.example",
        description="Domain of the per-store inbound addresses merchants set at the marketplace",
    )
    credentials_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key that encrypts marketplace credentials at rest",
    )

    check_credentials_key = field_validator("credentials_key")(check_fernet_key)
