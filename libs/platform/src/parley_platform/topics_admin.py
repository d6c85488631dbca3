"""Creates the topics the contracts name; used by the local stack, tests and the k8s Job.

Idempotent: existing topics are left as they are.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from parley_schemas import ALL_TOPICS


async def ensure_topics(
    bootstrap_servers: str, replication_factor: int = 1, prefix: str = ""
) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=prefix + t.name,
                num_partitions=t.partitions,
                replication_factor=replication_factor,
            )
            for t in ALL_TOPICS
            if prefix + t.name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, prefix: str) -> None:
    """Removes a prefixed environment's topics (test runs clean up after themselves)."""
    if not prefix:
        raise ValueError("refusing to delete the unprefixed production topics")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [prefix + t.name for t in ALL_TOPICS if prefix + t.name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def main() -> None:
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
    replication = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    created = asyncio.run(ensure_topics(bootstrap, replication))
    print(f"topics created: {', '.join(created) or 'none (all present)'}")


if __name__ == "__main__":
    main()
