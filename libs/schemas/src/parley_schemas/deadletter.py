"""Dead letters: records or marketplace payloads that could not be processed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .common import Record


class DeadLetter(Record):
    """Keeps enough to understand and replay: where it came from, why, and the bytes."""

    stage: str
    reason: str
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    original_key: str | None = None
    original_value: str | None = None
    context: dict[str, Any] = {}
    failed_at: datetime
