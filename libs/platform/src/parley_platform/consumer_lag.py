"""Consumer lag per topic/partition, for every consumer group a process runs.

Lag is what a scaler (KEDA) and an alert want to know: records a group has not yet
got through. It is read from the consumer the process already has, without a new
connection: the highwater the consumer learnt from its last fetch, minus the group's
committed offset for the partition (or the consumer's position before the first
commit). Only partitions assigned to this process are reported, and a partition
revoked by a rebalance loses its series here, so summing over instances never counts
a partition twice.

Faust and aiokafka expose this differently; :class:`LagSource` is the common shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .metrics import KAFKA_CONSUMER_LAG


class LagSource(Protocol):
    """A running consumer: what it is assigned, and its offsets there."""

    def assignment(self) -> Iterable[Any]:
        """Topic partitions (with ``topic`` and ``partition``) assigned now."""
        ...

    def highwater(self, tp: Any) -> int | None:
        """The partition's end offset as of the last fetch, None before one."""
        ...

    async def committed(self, tp: Any) -> int | None:
        """The next offset the group will process on the partition, if known."""
        ...


class ConsumerLag:
    """Sets ``parley_kafka_consumer_lag`` for one consumer group from its source."""

    def __init__(self, group: str, source: LagSource) -> None:
        self._group = group
        self._source = source
        self._reported: set[tuple[str, str]] = set()

    async def refresh(self) -> None:
        seen: set[tuple[str, str]] = set()
        for tp in list(self._source.assignment()):
            highwater = self._source.highwater(tp)
            committed = await self._source.committed(tp)
            if highwater is None or committed is None:
                continue
            labels = (str(tp.topic), str(tp.partition))
            KAFKA_CONSUMER_LAG.labels(self._group, *labels).set(max(0, highwater - committed))
            seen.add(labels)
        for gone in self._reported - seen:  # revoked by a rebalance: another instance's now
            KAFKA_CONSUMER_LAG.remove(self._group, *gone)
        self._reported = seen

    def forget(self) -> None:
        """Removes this group's series (the consumer stopped)."""
        for labels in self._reported:
            KAFKA_CONSUMER_LAG.remove(self._group, *labels)
        self._reported = set()


class AiokafkaLag:
    """A plain :class:`aiokafka.AIOKafkaConsumer` that commits each record after its
    handler (:mod:`parley_platform.consumer`): its position is where the group is."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    def assignment(self) -> Iterable[Any]:
        return set(self._consumer.assignment())

    def highwater(self, tp: Any) -> int | None:
        value = self._consumer.highwater(tp)
        return None if value is None else int(value)

    async def committed(self, tp: Any) -> int | None:
        # The position is local once the partition is fetched from: no broker round trip.
        return int(await self._consumer.position(tp))


class FaustLag:
    """A Faust worker's consumer: the offsets it committed (Faust keeps them, seeded
    from the group's committed offsets at assignment), else its position."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def assignment(self) -> Iterable[Any]:
        return set(self._app.consumer.assignment())

    def highwater(self, tp: Any) -> int | None:
        value = self._app.consumer.highwater(tp)
        return None if value is None else int(value)

    async def committed(self, tp: Any) -> int | None:
        offsets = getattr(self._app.consumer, "_committed_offset", {})
        value = offsets.get(tp) if hasattr(offsets, "get") else None
        if value is None:
            value = await self._app.consumer.position(tp)
        return None if value is None else int(value)
