"""Waits until Kafka and MongoDB answer, and creates the topics; for start-up scripts.

A port that accepts connections is not a broker that serves metadata, so this asks
each server a real question before declaring the stack healthy. The Kafka connection's
security comes from the environment, as for every service (KAFKA_SECURITY_PROTOCOL,
KAFKA_SASL_*, KAFKA_SSL_* and the *_FILE variants); ``--kafka``/``--mongo`` given without
a value mean KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI (or MONGODB_URI_FILE). A bad
setting exits 2, like a service.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from .kafka_security import KafkaSecurity, kafka_client_options
from .settings import ServiceSettings, load_settings
from .topics_admin import ensure_topics

_FROM_ENV = "(from the environment)"


async def kafka_ready(bootstrap: str, security: KafkaSecurity | None = None) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **kafka_client_options(security)
    )
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


async def mongo_ready(uri: str) -> bool:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=3000
    )
    try:
        await client.admin.command("ping")
        return True
    except Exception:
        return False
    finally:
        await client.close()


async def wait(
    kafka: str | None,
    mongo: str | None,
    within: float,
    create: bool,
    prefix: str = "",
    security: KafkaSecurity | None = None,
) -> None:
    deadline = time.monotonic() + within
    pending = {"kafka": kafka, "mongo": mongo}
    while True:
        if pending.get("kafka") and await kafka_ready(pending["kafka"] or "", security):
            pending["kafka"] = None
        if pending.get("mongo") and await mongo_ready(pending["mongo"] or ""):
            pending["mongo"] = None
        if not any(pending.values()):
            break
        if time.monotonic() > deadline:
            waiting = ", ".join(k for k, v in pending.items() if v)
            raise SystemExit(f"not healthy after {within:.0f} s: {waiting}")
        await asyncio.sleep(1)
    if create and kafka:
        created = await ensure_topics(kafka, 1, prefix, security=security)
        print(f"topics created: {', '.join(created) or 'none (all present)'}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kafka", nargs="?", const=_FROM_ENV, help="bootstrap servers")
    parser.add_argument("--mongo", nargs="?", const=_FROM_ENV, help="connection string")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--create-topics", action="store_true")
    parser.add_argument("--topic-prefix", default="", help="the environment's topic prefix")
    args = parser.parse_args()
    settings = load_settings(ServiceSettings, "healthcheck")
    kafka = settings.kafka_bootstrap_servers if args.kafka == _FROM_ENV else args.kafka
    mongo = settings.mongodb_uri.get_secret_value() if args.mongo == _FROM_ENV else args.mongo
    security = KafkaSecurity.of(settings)
    asyncio.run(wait(kafka, mongo, args.timeout, args.create_topics, args.topic_prefix, security))


if __name__ == "__main__":
    main()
