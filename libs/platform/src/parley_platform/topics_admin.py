"""Creates the topics the contracts name, with the configuration they declare
(parley_schemas.topics: retention.ms, cleanup.policy, min.insync.replicas), and sets
that configuration again on topics that exist, so the declaration stays true; used by
the local stack, tests and the Helm chart's topics hook Job.

Idempotent. The config of an existing topic is replaced by the declared one (plus the
deployment's ``--topics`` overrides): a value changed by hand is set back. Partitions of
an existing topic are never changed here: growing them moves keys between partitions,
which co-partitioned topics must do together and with their consumers stopped.

    python -m parley_platform.topics_admin BOOTSTRAP [REPLICATION] [--prefix P]
        [--topics '[{"name": "marketplace.raw.v1", "partitions": 6,
                     "config": {"retention.ms": "604800000"}}, ...]']

``--topics`` overrides the partitions and config of the topics it names (the chart
renders it from its values); a contract topic it leaves out gets the contract's
declaration as it is.

The command reads the connection's security from the environment like every service
(KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_* and their *_FILE variants), and
BOOTSTRAP defaults to KAFKA_BOOTSTRAP_SERVERS; a bad setting exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from parley_schemas import ALL_TOPICS

from .kafka_security import KafkaSecurity, kafka_client_options
from .settings import ServiceSettings, load_settings


@dataclass(frozen=True)
class TopicSpec:
    """What the deployment asks of one contract topic at creation."""

    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


def parse_topic_specs(text: str) -> dict[str, TopicSpec]:
    """The ``--topics`` JSON list, checked against the contracts' topic names."""
    known = {t.name for t in ALL_TOPICS}
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("--topics must be a JSON list of {name, partitions, config}")
    specs: dict[str, TopicSpec] = {}
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in known:
            raise ValueError(f"--topics names {name!r}, not a contract topic")
        partitions = item.get("partitions")
        if not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1:
            raise ValueError(f"--topics: {name}: partitions must be a positive integer")
        config = item.get("config") or {}
        if not isinstance(config, dict):
            raise ValueError(f"--topics: {name}: config must be an object")
        specs[name] = TopicSpec(partitions, {str(k): str(v) for k, v in config.items()})
    return specs


def new_topics(
    replication_factor: int, prefix: str, specs: Mapping[str, TopicSpec] | None = None
) -> list[NewTopic]:
    """Every contract topic as it would be created."""
    topics = []
    for t in ALL_TOPICS:
        spec = (specs or {}).get(t.name)
        topics.append(
            NewTopic(
                name=prefix + t.name,
                num_partitions=spec.partitions if spec else t.partitions,
                replication_factor=replication_factor,
                topic_configs=topic_config(t.name, replication_factor, specs),
            )
        )
    return topics


def topic_config(
    name: str, replication_factor: int, specs: Mapping[str, TopicSpec] | None = None
) -> dict[str, str]:
    """The config a contract topic must have: its declaration, then the deployment's
    overrides for it."""
    (topic,) = [t for t in ALL_TOPICS if t.name == name]
    spec = (specs or {}).get(name)
    return {**topic.config(replication_factor), **(dict(spec.config) if spec else {})}


async def ensure_topics(
    bootstrap_servers: str,
    replication_factor: int = 1,
    prefix: str = "",
    specs: Mapping[str, TopicSpec] | None = None,
    *,
    security: KafkaSecurity | None = None,
) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **kafka_client_options(security)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = new_topics(replication_factor, prefix, specs)
        missing = [t for t in wanted if t.name not in existing]
        # The topic list can lag a creation just made (by us or another process): a
        # topic that exists after all is not created but has its config set below.
        raced = await _create(admin, missing) if missing else set()
        missing = [t for t in missing if t.name not in raced]
        present = [t for t in wanted if t.name in existing or t.name in raced]
        if present:
            # AlterConfigs replaces a topic's dynamic config with this set: the topic
            # ends up with exactly what is declared, whatever was set on it before.
            responses = await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, t.name, configs=t.topic_configs)
                    for t in present
                ]
            )
            _raise_for_errors(responses)
        return [t.name for t in missing]
    finally:
        await admin.close()


_TOPIC_ALREADY_EXISTS = 36


async def _create(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> set[str]:
    """Creates the topics; answers those that existed already. CreateTopics answers an
    error per topic instead of raising: any other error fails the run."""
    response = await admin.create_topics(topics)
    existed: set[str] = set()
    refused: list[str] = []
    for error in response.topic_errors:
        name, code = error[0], error[1]
        if code == _TOPIC_ALREADY_EXISTS:
            existed.add(name)
        elif code:
            refused.append(f"{name}: {error[2] if len(error) > 2 else code}")
    if refused:
        raise RuntimeError(f"topics not created: {'; '.join(refused)}")
    return existed


def _raise_for_errors(responses: list[Any]) -> None:
    """AlterConfigs answers an error per resource instead of raising: raise it here, so
    a config the broker refused (an unknown key, a bad value) fails the run."""
    refused = [
        f"{name}: {message or code}"
        for response in responses
        for code, message, _type, name in response.resources
        if code
    ]
    if refused:
        raise RuntimeError(f"topic config refused: {'; '.join(refused)}")


async def describe_topic_configs(
    bootstrap_servers: str, names: list[str], *, security: KafkaSecurity | None = None
) -> dict[str, dict[str, str]]:
    """The current config of these topics, by topic and key (what an operator would see
    with ``kafka-configs --describe``)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **kafka_client_options(security)
    )
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
        found: dict[str, dict[str, str]] = {}
        for response in responses:
            for _code, _message, _type, name, entries in response.resources:
                found[name] = {entry[0]: entry[1] for entry in entries}
        return found
    finally:
        await admin.close()


async def delete_topics(
    bootstrap_servers: str, prefix: str, *, security: KafkaSecurity | None = None
) -> None:
    """Removes a prefixed environment's topics (test runs clean up after themselves)."""
    if not prefix:
        raise ValueError("refusing to delete the unprefixed production topics")
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **kafka_client_options(security)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [prefix + t.name for t in ALL_TOPICS if prefix + t.name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m parley_platform.topics_admin")
    parser.add_argument("bootstrap", nargs="?", help="default: KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("replication", nargs="?", type=int, default=1)
    parser.add_argument("--prefix", default="", help="prepended to every topic name")
    parser.add_argument("--topics", default="", help="JSON list of {name, partitions, config}")
    args = parser.parse_args(argv)
    try:
        specs = parse_topic_specs(args.topics) if args.topics else None
    except ValueError as exc:  # json.JSONDecodeError included
        parser.error(str(exc))
    settings = load_settings(ServiceSettings, "topics")
    created = asyncio.run(
        ensure_topics(
            args.bootstrap or settings.kafka_bootstrap_servers,
            args.replication,
            args.prefix,
            specs,
            security=KafkaSecurity.of(settings),
        )
    )
    print(f"topics created: {', '.join(created) or 'none (all present)'}")


if __name__ == "__main__":
    main()
