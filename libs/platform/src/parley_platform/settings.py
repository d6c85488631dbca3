"""Settings every service shares, read from the environment (twelve-factor).

Each service subclasses :class:`ServiceSettings` with its own prefix-free fields;
the names below are the ones the Makefile, docker-compose and deploy/ set.

Entrypoints read their settings with :func:`load_settings`: a bad setting stops the
process at start-up with one line per bad variable on stderr (the variable and the
rule it breaks, never its value) and exit status 2, instead of a traceback from deep
inside a lifespan. Every rule therefore lives in the settings model (field and model
validators), so that it fails at load; secrets a service cannot work without are
named in ``required_at_startup`` and reported as "must be set" by :func:`load_settings`
(tests and tools that build settings objects directly may leave them empty).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Literal, TypeVar

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

EXIT_BAD_SETTINGS = 2
# Kafka's own rule for topic names, which the prefix becomes part of.
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Set while an entrypoint loads its settings: only then are missing secrets an error.
_AT_STARTUP: ContextVar[bool] = ContextVar("parley_settings_at_startup", default=False)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", validate_default=True)

    # Fields (secrets) the service cannot run without; empty ones fail load_settings.
    required_at_startup: ClassVar[tuple[str, ...]] = ()

    service_name: str = "parley"
    log_level: str = Field(default="INFO", description=", ".join(_LOG_LEVELS))
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1)
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    mongodb_database: str = Field(default="parley", min_length=1)
    kafka_topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name: several isolated environments "
        "(or test runs) can share one Kafka cluster",
    )
    # Bounded waits on every client: an unreachable dependency fails a call in seconds
    # (and the caller answers 503 or retries) instead of hanging it for PyMongo's and
    # aiokafka's defaults (30 s server selection, no socket timeout, 40 s requests).
    mongodb_server_selection_timeout_ms: int = Field(
        default=5000, gt=0, description="How long a MongoDB call waits for a usable server"
    )
    mongodb_connect_timeout_ms: int = Field(
        default=5000, gt=0, description="How long opening one MongoDB connection may take"
    )
    mongodb_socket_timeout_ms: int = Field(
        default=60000, gt=0, description="How long one MongoDB socket read or write may take"
    )
    mongodb_timeout_ms: int = Field(
        default=0,
        ge=0,
        description="Bound of every MongoDB operation (timeoutMS, sent as maxTimeMS too); "
        "0: none beyond the socket timeout",
    )
    kafka_request_timeout_ms: int = Field(
        default=30000,
        gt=0,
        description="Kafka producer request and metadata timeout; a record not delivered "
        "within it fails (and is dropped from the producer's buffer)",
    )
    otel_traces_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", description="none, console or otlp (otlp needs the exporter package)"
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise PydanticCustomError("log_level", f"must be one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("kafka_topic_prefix")
    @classmethod
    def _valid_topic_prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise PydanticCustomError(
                "topic_prefix", "may only contain ASCII letters, digits, '.', '_' and '-'"
            )
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _set_when_required(cls, value: Any, info: ValidationInfo) -> Any:
        if _AT_STARTUP.get() and info.field_name in cls.required_at_startup:
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not raw:
                raise PydanticCustomError("missing_setting", "must be set")
        return value


def check_fernet_key(value: SecretStr) -> SecretStr:
    """A field validator body for CREDENTIALS_KEY: empty, or a valid Fernet key."""
    key = value.get_secret_value()
    if key:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise PydanticCustomError(
                "fernet_key",
                "must be a Fernet key: 32 url-safe base64-encoded bytes (parley generate-key)",
            ) from None
    return value


S = TypeVar("S", bound=BaseSettings)


@contextmanager
def _startup() -> Iterator[None]:
    token = _AT_STARTUP.set(True)
    try:
        yield
    finally:
        _AT_STARTUP.reset(token)


def env_name(settings_class: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """The environment variable a pydantic error location stands for."""
    if not loc or not isinstance(loc[0], str):
        return "(settings)"
    field = settings_class.model_fields.get(loc[0])
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, str):
        return alias.upper()
    prefix = str(settings_class.model_config.get("env_prefix") or "")
    return f"{prefix}{loc[0]}".upper()


def _rule(error: Any) -> str:
    """Pydantic's message, without the value: a custom validator might quote it."""
    msg = str(error.get("msg", "is invalid"))
    if error.get("type") == "value_error" and msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str) and len(value) >= 3 and value in msg:
        msg = msg.replace(value, "<value hidden>")
    return msg


def format_errors(
    service: str, settings_class: type[BaseSettings], exc: ValidationError
) -> list[str]:
    """One line per bad variable: ``<service>: invalid setting VAR: <rule>``.

    Only the location (turned into the variable's name) and the message are used,
    never ``input`` nor ``str(exc)``, which quote the value (a secret, maybe).
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_context=False):
        line = f"{service}: invalid setting {env_name(settings_class, error['loc'])}: "
        line += _rule(error)
        if line not in lines:
            lines.append(line)
    return lines


def load_settings(settings_class: type[S], service: str | None = None) -> S:
    """The settings from the environment, or exit 2 with one line per bad variable.

    Missing ``required_at_startup`` secrets count as bad variables here only.
    """
    if service is None:
        field = settings_class.model_fields.get("service_name")
        service = str(field.default) if field is not None else settings_class.__name__
    try:
        with _startup():
            return settings_class()
    except ValidationError as exc:
        lines = format_errors(service, settings_class, exc)
    print("\n".join(lines), file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_SETTINGS)
