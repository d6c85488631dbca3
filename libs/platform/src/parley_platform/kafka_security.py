"""How every Kafka client of Parley connects: PLAINTEXT, TLS (mutual or not) or SASL.

One :class:`KafkaSecurity`, made from the settings (``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_*``, ``KAFKA_SSL_*``; see :class:`~.settings.ServiceSettings`), is handed
to every client: :func:`kafka_client_options` turns it into the keyword arguments of
aiokafka's producers, consumers and admin clients, :func:`faust_broker_credentials`
into a Faust app's ``broker_credentials``. Two builders of one value, so a Faust
worker and the plain clients of the same service can never disagree on how to
reach the cluster (Strimzi's TLS listener, Confluent Cloud's SASL_SSL/PLAIN, MSK's
SCRAM-SHA-512, or the local PLAINTEXT broker of ``make run``).

The combinations are checked when the settings load (a SASL protocol without
credentials, TLS files that are missing or do not load, credentials for a listener
that would ignore them): a bad configuration stops a service at start, exit 2.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faust
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

from .settings import KafkaSaslMechanism, KafkaSecurityProtocol

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from .settings import ServiceSettings


@dataclass(frozen=True)
class KafkaSecurity:
    """The transport security of a Kafka connection; the default is PLAINTEXT.

    Secrets stay :class:`~pydantic.SecretStr` until handed to a client, so the
    object's ``repr`` (in a log or a traceback) never shows them.
    """

    protocol: KafkaSecurityProtocol = "PLAINTEXT"
    sasl_mechanism: KafkaSaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True

    @classmethod
    def of(cls, settings: ServiceSettings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password,
            ssl_cafile=settings.kafka_ssl_cafile,
            ssl_certfile=settings.kafka_ssl_certfile,
            ssl_keyfile=settings.kafka_ssl_keyfile,
            ssl_key_password=settings.kafka_ssl_key_password,
            ssl_check_hostname=settings.kafka_ssl_check_hostname,
        )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (None without TLS), made once and shared by every client
        given this object: the CA (the system's when unset) and, for mutual TLS, the
        client certificate and key."""
        if not self.uses_tls:
            return None
        password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else ""
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
            # Never None: OpenSSL would prompt on the terminal for an encrypted key.
            password=password,
        )
        if not self.ssl_check_hostname:
            # The chain is still verified against the CA; only the name check goes,
            # for brokers whose certificates do not name their advertised hosts.
            context.check_hostname = False
        return context

    def _sasl_credentials(self) -> tuple[str, str, str]:
        if not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"{self.protocol} needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME "
                "and KAFKA_SASL_PASSWORD"
            )
        return self.sasl_mechanism, self.sasl_username, self.sasl_password.get_secret_value()


PLAINTEXT = KafkaSecurity()


def kafka_client_options(security: KafkaSecurity | None) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer``,
    ``AIOKafkaAdminClient`` and ``AIOKafkaClient`` (``None`` means PLAINTEXT)."""
    security = security or PLAINTEXT
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.uses_tls:
        options["ssl_context"] = security.ssl_context
    if security.uses_sasl:
        mechanism, username, password = security._sasl_credentials()
        options |= {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options


def faust_broker_credentials(security: KafkaSecurity | None) -> CredentialsT | None:
    """A Faust app's ``broker_credentials`` (``None``: PLAINTEXT).

    Faust (faust-streaming) hands these to aiokafka for its consumer, producer and
    topic creation: ``SASLCredentials`` carries any of aiokafka's mechanisms, SCRAM
    included, and becomes SASL_SSL when given an SSL context.
    """
    security = security or PLAINTEXT
    if security.uses_sasl:
        mechanism, username, password = security._sasl_credentials()
        return faust.SASLCredentials(
            username=username,
            password=password,
            mechanism=mechanism,
            ssl_context=security.ssl_context,
        )
    if security.uses_tls:
        return faust.SSLCredentials(security.ssl_context)
    return None
