"""Topic configuration from one declaration (parley_schemas.topics), on the real broker:
created with it, and brought back to it on topics that drifted. The broker applies a
config change asynchronously (KRaft metadata), so reads wait for it with a deadline."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from support.waiting import eventually

from parley_platform.topics_admin import TopicSpec, describe_topic_configs, ensure_topics
from parley_schemas import ALL_TOPICS, CONVERSATION_EVENTS, DAY_MS

pytestmark = pytest.mark.integration

DECLARED = ("retention.ms", "cleanup.policy", "min.insync.replicas")


async def configs(bootstrap: str, prefix: str) -> dict[str, dict[str, str]]:
    found = await describe_topic_configs(bootstrap, [prefix + t.name for t in ALL_TOPICS])
    return {
        name.removeprefix(prefix): {k: v.get(k, "") for k in DECLARED} for name, v in found.items()
    }


Configs = dict[str, dict[str, str]]


async def until_configs(
    bootstrap: str, prefix: str, expected: Configs | Callable[[Configs], bool]
) -> Configs:
    """The configs once they equal ``expected`` (or satisfy it), or the last ones read
    at the deadline."""
    seen: Configs = {}
    done = expected if callable(expected) else lambda found: found == expected

    async def settled() -> bool:
        seen.update(await configs(bootstrap, prefix))
        return done(seen)

    with contextlib.suppress(AssertionError):  # the caller's assert shows what was seen
        await eventually(settled, timeout=20)
    return seen


def declared(replication: int) -> dict[str, dict[str, str]]:
    return {t.name: t.config(replication) for t in ALL_TOPICS}


async def test_topics_have_the_declared_config(kafka_bootstrap: str, topic_prefix: str) -> None:
    """``topic_prefix`` made the topics with ensure_topics (tests/conftest.py)."""
    found = await until_configs(kafka_bootstrap, topic_prefix, declared(1))
    assert found == declared(1)
    assert found[CONVERSATION_EVENTS.name]["retention.ms"] == str(7 * DAY_MS)


async def test_a_drifted_topic_is_set_back_to_the_declaration(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    name = topic_prefix + CONVERSATION_EVENTS.name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # someone keeps personal data for ever by hand
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={"retention.ms": "-1"})]
        )
    finally:
        await admin.close()
    drifted = await until_configs(
        kafka_bootstrap,
        topic_prefix,
        lambda found: found[CONVERSATION_EVENTS.name]["retention.ms"] == "-1",
    )
    assert drifted[CONVERSATION_EVENTS.name]["retention.ms"] == "-1"

    assert await ensure_topics(kafka_bootstrap, 1, topic_prefix) == []

    assert await until_configs(kafka_bootstrap, topic_prefix, declared(1)) == declared(1)


async def test_a_deployment_override_wins_over_the_declaration(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    specs = {CONVERSATION_EVENTS.name: TopicSpec(6, {"retention.ms": str(3 * DAY_MS)})}

    await ensure_topics(kafka_bootstrap, 1, topic_prefix, specs)

    expected = declared(1)
    expected[CONVERSATION_EVENTS.name]["retention.ms"] = str(3 * DAY_MS)
    found = await until_configs(kafka_bootstrap, topic_prefix, expected)
    assert found[CONVERSATION_EVENTS.name]["retention.ms"] == str(3 * DAY_MS)
    assert found[CONVERSATION_EVENTS.name]["cleanup.policy"] == "delete"
