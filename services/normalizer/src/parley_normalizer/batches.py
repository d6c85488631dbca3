"""The normalizer's batch handler: what :mod:`parley_platform.batches` calls per batch.

The platform takes the records (at most ``NORMALIZER_BATCH_MAX``, waiting at most
``NORMALIZER_BATCH_WAIT_MS``), decodes them, retries and dead-letters, and commits
offsets once the batch is stored. What is the normalizer's own is here and in
:meth:`~parley_normalizer.handlers.Normalizer.handle_batch`: a batch's records are
grouped by discussion and stored with a fixed number of bulk round trips whatever
its size (``NORMALIZER_WRITE_CHUNK`` writes per command), and a record that cannot be
applied is reported for itself, so the platform runs it alone (and dead-letters it)
while the rest of its batch is stored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from parley_platform.batches import BatchHandler
from parley_platform.logging import get_logger
from parley_platform.streams import Received

from .handlers import Normalizer

log = get_logger(__name__)


def batch_handler(normalizer: Normalizer) -> BatchHandler:
    """Stores a batch of decoded records through ``normalizer``; each record's trace
    goes with the events it causes (its scope is entered while they are published)."""

    async def handle(records: Sequence[Received]) -> Sequence[Exception | None]:
        started = time.perf_counter()
        result = await normalizer.handle_batch(
            [record.envelope for record in records], [record.scope for record in records]
        )
        log.info(
            "batch normalized",
            records=len(records),
            failed=sum(error is not None for error in result.errors),
            discussions=result.discussions,
            new_messages=result.new_messages,
            seconds=round(time.perf_counter() - started, 3),
        )
        return result.errors

    return handle
