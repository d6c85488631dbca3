"""Gateway settings, from the environment (twelve-factor).

Field names follow the platform convention (no prefix; the gateway's own fields start
with ``gateway_``), so GATEWAY_HOST / GATEWAY_PORT are the variables devstack,
docker-compose and the Helm chart (deploy/helm/parley) already set.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from parley_platform.settings import ServiceSettings
from parley_platform.signed_links import LinkSettings


class GatewaySettings(ServiceSettings, LinkSettings):
    """LinkSettings: the key that checks download links (the responder's signs them) and
    the public URL buyers reach the gateway by (F18)."""

    # Without the pepper every API key digest would be checkable from a database copy.
    required_at_startup: ClassVar[tuple[str, ...]] = ("api_key_pepper",)

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
    # Fast, honest errors (503 + Retry-After within 5 s, never a 30 s hang): the
    # gateway's bounds are tighter than the platform's. A database that is down fails a
    # call after server selection (2 s), one that hangs after the socket timeout (4 s);
    # a slow query stops at gateway_query_max_time_ms on the server. No timeoutMS by
    # default: PyMongo then applies it to server selection too, and to a whole upload.
    mongodb_server_selection_timeout_ms: int = Field(default=2000, gt=0)
    mongodb_connect_timeout_ms: int = Field(default=2000, gt=0)
    mongodb_socket_timeout_ms: int = Field(
        default=4000,
        gt=0,
        description="Longer than GATEWAY_QUERY_MAX_TIME_MS: a query ends on the server first",
    )
    kafka_request_timeout_ms: int = Field(
        default=2500,
        gt=0,
        description="Producer bound: a command the broker has not acknowledged by then "
        "fails and is dropped from the producer's buffer",
    )
    gateway_command_timeout_seconds: float = Field(
        default=4.0,
        gt=0,
        description="How long a request waits for Kafka to take its command or event "
        "after storing it in the outbox; past that the outbox relay publishes it later "
        "and the request is answered at once",
    )
    gateway_reply_at_risk_hours: float = Field(
        default=4.0,
        gt=0,
        description="A reply due within this many hours (or overdue) counts as at risk "
        "in the discussion counts",
    )
    gateway_query_max_time_ms: int = Field(
        default=3000,
        gt=0,
        description="maxTimeMS of every find, count and aggregate: the server abandons a "
        "query after it, even when its client is gone",
    )
    gateway_read_deadline_seconds: float = Field(
        default=4.5,
        gt=0,
        description="A REST read (GET) that has not started answering by then is "
        "abandoned and answered 503 + Retry-After; longer than GATEWAY_QUERY_MAX_TIME_MS",
    )
    gateway_max_concurrent_requests: int = Field(
        default=32,
        ge=1,
        description="Requests one gateway instance works on at once (each touches MongoDB)",
    )
    gateway_queue_timeout_seconds: float = Field(
        default=0.5,
        ge=0,
        description="How long a request over the concurrency limit waits for a slot "
        "before it is answered 503 + Retry-After",
    )
    gateway_retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After of a 503 while a dependency is down"
    )
    gateway_graphql_max_cost: int = Field(
        default=1000,
        ge=1,
        description="Highest estimated cost of one GraphQL request: each object field "
        "counts 1, what is selected under a paged field counts `first` times (see "
        "parley_gateway.graphql.cost)",
    )
    api_key_pepper: SecretStr = Field(
        default=SecretStr(""),
        description="Server-side secret mixed into every API key digest (HMAC key): with "
        "it, a copy of the database alone cannot check a key. Changing it invalidates every "
        "key; set the same value wherever keys are created (the CLI) and checked",
    )

    # Autoresponder test mails (F19) go through this SMTP relay; the default is the
    # local sandbox's sink, like the responder's (which sends the real copies).
    gateway_smtp_host: str = "127.0.0.1"
    gateway_smtp_port: int = Field(default=2526, ge=1, le=65535)
    gateway_smtp_starttls: bool = False
    gateway_smtp_implicit_tls: bool = False
    gateway_smtp_username: str = ""
    gateway_smtp_password: SecretStr = Field(default=SecretStr(""))
    gateway_smtp_timeout_seconds: float = Field(default=15.0, gt=0)
    gateway_notification_from: str = Field(
        default="autoresponder@parley.example",
        description="From address of autoresponder test mails",
    )

    # Files merchants upload to attach to replies (POST /files).
    gateway_max_upload_bytes: int = Field(
        default=10 * 1000 * 1000,
        ge=1,
        description="Largest file accepted by POST /files (larger ones get 413)",
    )
    gateway_upload_types: list[str] = Field(
        default=[
            "application/pdf",
            "image/jpeg",
            "image/png",
            "image/gif",
            "text/plain",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ],
        description="Media types POST /files accepts (others get 415)",
    )
    gateway_max_reply_attachments: int = Field(
        default=10, ge=0, description="Most files one reply may attach"
    )

    # Invoices (F20): the invoicer's HTTP API, the one writer of invoices and their files.
    gateway_invoicer_url: str = Field(
        default="http://127.0.0.1:8300",
        description="Base URL of the invoicer (devstack's port; compose and Helm set "
        "their service's URL)",
    )
    gateway_invoicer_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for one invoicer call (a first render included) before "
        "the request is answered 503 + Retry-After",
    )

    # Live events for UIs (GET /events/stream) and browsers on other origins.
    gateway_live_events: bool = Field(
        default=True,
        description="Serve GET /events/stream: the gateway then follows the conversation "
        "events topic (no consumer group, from its end)",
    )
    gateway_live_buffer: int = Field(
        default=10_000,
        ge=1,
        description="Recent events held for clients resuming with Last-Event-ID; older "
        "positions get a `reset` event",
    )
    gateway_live_max_streams: int = Field(
        default=200, ge=1, description="Open event streams one instance serves (503 beyond)"
    )
    gateway_live_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="Idle streams get a comment line this often"
    )
    gateway_session_ttl_hours: float = Field(
        default=12.0,
        gt=0,
        description="How long a web inbox sign-in (its session cookie) lasts; the "
        "merchant then pastes the API key again",
    )
    gateway_session_sweep_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often expired web inbox sessions are deleted from the store "
        "(FerretDB has no TTL index: a session never presented again would stay)",
    )
    gateway_cors_origins: list[str] = Field(
        default=[],
        description="Origins allowed to call the API from a browser (CORS), e.g. "
        '["https://inbox.example.com"]; empty (the default): no cross-origin access',
    )

    @field_validator("gateway_cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        """Exact origins only: a wildcard would let any site use a signed-in browser's key."""
        for origin in origins:
            if origin == "*" or not re.fullmatch(r"https?://[^/\s*]+", origin):
                raise ValueError(
                    "GATEWAY_CORS_ORIGINS entries must be scheme://host[:port] origins"
                    " (no path, no wildcard)"
                )
        return origins

    @model_validator(mode="after")
    def _bounds_fit_together(self) -> GatewaySettings:
        if self.gateway_query_max_time_ms >= self.mongodb_socket_timeout_ms:
            raise ValueError(
                "GATEWAY_QUERY_MAX_TIME_MS must be shorter than MONGODB_SOCKET_TIMEOUT_MS: "
                "a slow query must be stopped by the server, not abandoned by the gateway"
            )
        if self.gateway_read_deadline_seconds * 1000 <= self.gateway_query_max_time_ms:
            raise ValueError(
                "GATEWAY_READ_DEADLINE_SECONDS must be longer than GATEWAY_QUERY_MAX_TIME_MS: "
                "a query the server may still finish must be waited for"
            )
        if self.gateway_command_timeout_seconds * 1000 <= self.kafka_request_timeout_ms:
            raise ValueError(
                "GATEWAY_COMMAND_TIMEOUT_SECONDS must be longer than "
                "KAFKA_REQUEST_TIMEOUT_MS: a command refused with 503 must not stay in "
                "the producer's buffer"
            )
        return self

    def pepper(self) -> bytes:
        return self.api_key_pepper.get_secret_value().encode()
