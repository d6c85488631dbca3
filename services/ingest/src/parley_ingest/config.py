"""Ingest settings, from the environment."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from parley_platform.settings import ServiceSettings, check_fernet_key, setting_error


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
    # STARTTLS for the relays: offered once a certificate and its key are set (PEM files,
    # e.g. a mounted kubernetes.io/tls secret; re-read when they change on disk).
    ingest_smtp_tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate (chain) the inbound SMTP server offers"
    )
    ingest_smtp_tls_key_file: Path | None = Field(
        default=None, description="PEM private key of INGEST_SMTP_TLS_CERT_FILE"
    )
    ingest_smtp_require_starttls: bool = Field(
        default=False,
        description="Refuse mail (530) from a client that did not STARTTLS first; "
        "needs INGEST_SMTP_TLS_CERT_FILE and INGEST_SMTP_TLS_KEY_FILE",
    )
    ingest_inbound_domain: str = Field(
        default="inbound.parley.example",
        description="Domain of the per-store inbound addresses merchants set at the marketplace",
    )
    credentials_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key that encrypts marketplace credentials at rest",
    )

    check_credentials_key = field_validator("credentials_key")(check_fernet_key)

    @model_validator(mode="after")
    def _smtp_tls_consistent(self) -> Self:
        """Both files or neither; they load as a pair at start (not at the first relay's
        STARTTLS); STARTTLS cannot be required without them."""
        cert, key = self.ingest_smtp_tls_cert_file, self.ingest_smtp_tls_key_file
        if (cert is None) != (key is None):
            missing = "INGEST_SMTP_TLS_KEY_FILE" if key is None else "INGEST_SMTP_TLS_CERT_FILE"
            raise setting_error(missing, "must be set with the other INGEST_SMTP_TLS_* file")
        if cert is None or key is None:
            if self.ingest_smtp_require_starttls:
                raise setting_error(
                    "INGEST_SMTP_REQUIRE_STARTTLS",
                    "needs INGEST_SMTP_TLS_CERT_FILE and INGEST_SMTP_TLS_KEY_FILE",
                )
            return self
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                cert, key, password=""
            )
        except (OSError, ssl.SSLError, ValueError, TypeError) as exc:
            raise setting_error(
                "INGEST_SMTP_TLS_CERT_FILE",
                f"the certificate and its key do not load ({type(exc).__name__}): not "
                "readable, not PEM, not a matching pair, or an encrypted key",
            ) from None
        return self
