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

Secrets may also come from files, the Kubernetes/Docker secret convention: ``<NAME>_FILE``
names a file whose content (without its trailing newline) is the value, for
``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_KEY_PASSWORD`` and ``MONGODB_URI``. Setting both the
variable and its file is an error, as is a file that cannot be read.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

from cryptography.fernet import Fernet
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

EXIT_BAD_SETTINGS = 2
# Kafka's own rule for topic names, which the prefix becomes part of.
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Set while an entrypoint loads its settings: only then are missing secrets an error.
_AT_STARTUP: ContextVar[bool] = ContextVar("parley_settings_at_startup", default=False)

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
# Secret fields that may be read from the file named by <FIELD>_FILE instead.
SECRET_FILE_FIELDS = ("kafka_sasl_password", "kafka_ssl_key_password", "mongodb_uri")


def default_data_dir() -> Path:
    """A per-user directory under the system's temporary directory.

    Never the working directory: a container runs as an unprivileged user on a
    read-only root filesystem, where only the temporary directory (a mounted
    ``emptyDir``) is writable. Per user (by uid, which exists without a passwd entry)
    so that two users of one machine never share or block each other's directory.
    """
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return Path(tempfile.gettempdir()) / f"parley-{uid}"


def setting_error(setting: str, rule: str) -> PydanticCustomError:
    """An error of a model validator that names its variable (``format_errors`` reads
    ``setting``): a rule about several variables has no field location of its own."""
    return PydanticCustomError("setting", rule, {"setting": setting})


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", validate_default=True, populate_by_name=True
    )

    # Fields (secrets) the service cannot run without; empty ones fail load_settings.
    required_at_startup: ClassVar[tuple[str, ...]] = ()

    service_name: str = "parley"
    log_level: str = Field(default="INFO", description=", ".join(_LOG_LEVELS))
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1)
    mongodb_uri: SecretStr = Field(
        default=SecretStr("mongodb://127.0.0.1:27017/"),
        description="The MongoDB connection string; TLS and authentication go through it "
        "(mongodb+srv://user:pass@host/?tls=true&tlsCAFile=/ca.pem&authSource=admin, "
        "tlsCertificateKeyFile for X.509); or MONGODB_URI_FILE names a file holding it",
    )
    mongodb_uri_file: Path | None = Field(
        default=None, description="A file holding MONGODB_URI (a mounted secret)"
    )
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
    # Kafka transport security, shared by every producer, consumer, admin client and
    # Faust app (parley_platform.kafka_security builds their options from these).
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        description="PLAINTEXT, SSL (TLS, mutual with a client certificate), "
        "SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL protocols)"
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password")
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="A file holding KAFKA_SASL_PASSWORD (a mounted secret)"
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM CA bundle that signed the brokers' certificates; "
        "the system's CAs when unset",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate (chain) for mutual TLS"
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="PEM private key of KAFKA_SSL_CERTFILE"
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted KAFKA_SSL_KEYFILE"
    )
    kafka_ssl_key_password_file: Path | None = Field(
        default=None, description="A file holding KAFKA_SSL_KEY_PASSWORD (a mounted secret)"
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host connected to",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias="PARLEY_DATA_DIR",
        description="Where a Faust worker keeps its local state (one subdirectory per "
        "app); never the working directory, which is read-only in a container",
    )
    otel_traces_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        description="none, console or otlp (OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT)",
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

    @field_validator(
        "mongodb_uri_file",
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_sasl_password_file",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        "kafka_ssl_key_password_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``VAR=`` (a template's empty default) means unset, as for the other settings."""
        return None if value == "" else value

    @field_validator(
        "mongodb_uri_file",
        "kafka_sasl_password_file",
        "kafka_ssl_key_password_file",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
    )
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        """A file named in a setting exists and is readable now: found at start-up,
        not at the first connection (the path is a deployment's, never a secret, but
        the rule does not quote it: the variable names it)."""
        if value is None:
            return None
        if not value.is_file():
            raise PydanticCustomError("file", "no such file")
        if not os.access(value, os.R_OK):
            raise PydanticCustomError("file", "the file is not readable")
        return value

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Self:
        """``<NAME>_FILE`` replaces ``<NAME>``; both set is an error (which one wins
        would be a guess)."""
        for name in SECRET_FILE_FIELDS:
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            secret: SecretStr | None = getattr(self, name)
            if name in self.model_fields_set and secret and secret.get_secret_value():
                raise setting_error(
                    f"{name}_file".upper(), f"{name.upper()} is set too: set only one of them"
                )
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise setting_error(
                    f"{name}_file".upper(), f"cannot be read ({type(exc).__name__})"
                ) from None
            setattr(self, name, SecretStr(text.rstrip("\r\n")))
        return self

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Self:
        """A combination the protocol would ignore is a mistake (credentials given for a
        PLAINTEXT listener): refused at start rather than silently unused."""
        protocol = self.kafka_security_protocol
        sasl = protocol.startswith("SASL_")
        tls = protocol in ("SSL", "SASL_SSL")
        given = {
            "KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism is not None,
            "KAFKA_SASL_USERNAME": bool(self.kafka_sasl_username),
            "KAFKA_SASL_PASSWORD": bool(
                self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value()
            ),
        }
        for setting, present in given.items():
            if sasl and not present:
                raise setting_error(setting, f"must be set when KAFKA_SECURITY_PROTOCOL={protocol}")
            if not sasl and present:
                raise setting_error(
                    setting, f"is set but KAFKA_SECURITY_PROTOCOL={protocol} uses no SASL"
                )
        files = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        for setting, path in files.items():
            if path is not None and not tls:
                raise setting_error(
                    setting, f"is set but KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS"
                )
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise setting_error("KAFKA_SSL_CERTFILE", "must be set with KAFKA_SSL_KEYFILE")
        key_password = self.kafka_ssl_key_password
        if key_password and key_password.get_secret_value() and self.kafka_ssl_certfile is None:
            raise setting_error("KAFKA_SSL_KEY_PASSWORD", "is set but no KAFKA_SSL_CERTFILE")
        if tls:
            self._check_tls_files()
        return self

    def _check_tls_files(self) -> None:
        """Loads the CA and the client certificate/key as the clients will, so a wrong
        file or key password stops the process at start instead of every connection."""
        context = ssl.create_default_context()
        if self.kafka_ssl_cafile is not None:
            try:
                context.load_verify_locations(cafile=self.kafka_ssl_cafile)
            except (ssl.SSLError, ValueError):
                raise setting_error("KAFKA_SSL_CAFILE", "holds no PEM certificate") from None
        if self.kafka_ssl_certfile is not None:
            password = self.kafka_ssl_key_password
            try:
                context.load_cert_chain(
                    self.kafka_ssl_certfile,
                    self.kafka_ssl_keyfile,
                    # Never None: OpenSSL would prompt on the terminal for a key
                    # that turns out to be encrypted. "" fails such a key instead.
                    password=password.get_secret_value() if password else "",
                )
            except (ssl.SSLError, ValueError, TypeError):
                raise setting_error(
                    "KAFKA_SSL_CERTFILE",
                    "the certificate and its key (KAFKA_SSL_KEYFILE, KAFKA_SSL_KEY_PASSWORD) "
                    "do not load: not PEM, not a matching pair, or a wrong key password",
                ) from None

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
    for error in exc.errors(include_url=False):
        setting = (error.get("ctx") or {}).get("setting")
        name = str(setting) if setting else env_name(settings_class, error["loc"])
        line = f"{service}: invalid setting {name}: " + _rule(error)
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
