"""Settings every service shares, read from the environment (twelve-factor).

Each service subclasses :class:`ServiceSettings` with its own prefix-free fields;
the names below are the ones the Makefile, docker-compose and deploy/ set.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "parley"
    log_level: str = "INFO"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    mongodb_database: str = "parley"
    kafka_topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name: several isolated environments "
        "(or test runs) can share one Kafka cluster",
    )
    otel_traces_exporter: str = Field(
        default="none", description="none, console or otlp (otlp needs the exporter package)"
    )
