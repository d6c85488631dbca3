"""`make test` never writes into what `make run` uses: database "parley", no topic prefix.

tests/conftest.py gives the session a test database name and topic prefix (the
Makefile's test targets export the same); anything that falls back to the
environment — a settings object built without them, a service run as a subprocess —
lands there instead.
"""

from __future__ import annotations

import os

from support.kafka import TopicProbe, session_topic_prefix

from parley_gateway.config import GatewaySettings
from parley_ingest.config import IngestSettings
from parley_normalizer.config import NormalizerSettings
from parley_platform.settings import ServiceSettings
from parley_responder.config import ResponderSettings

RUN_DEFAULTS = {"mongodb_database": "parley", "kafka_topic_prefix": ""}


def test_the_guarded_values_are_the_settings_defaults() -> None:
    # What the conftest guard refuses is what `make run` gets: the settings' defaults.
    fields = ServiceSettings.model_fields
    assert {name: fields[name].default for name in RUN_DEFAULTS} == RUN_DEFAULTS


def test_settings_built_in_the_test_session_never_point_at_make_run() -> None:
    assert os.environ["MONGODB_DATABASE"] not in ("", RUN_DEFAULTS["mongodb_database"])
    assert os.environ["KAFKA_TOPIC_PREFIX"] != RUN_DEFAULTS["kafka_topic_prefix"]
    for settings_class in (GatewaySettings, IngestSettings, NormalizerSettings, ResponderSettings):
        settings = settings_class()
        assert settings.mongodb_database != RUN_DEFAULTS["mongodb_database"]
        assert settings.kafka_topic_prefix != RUN_DEFAULTS["kafka_topic_prefix"]


async def test_topic_probes_read_the_session_topics() -> None:
    prefix = session_topic_prefix()
    assert prefix
    probe = TopicProbe("127.0.0.1:9", "marketplace.raw.v1")
    assert probe._topic == f"{prefix}marketplace.raw.v1"
