"""Discussion keys: the Kafka record key and the stable identity of a discussion.

Every record about one discussion carries the same key, ``store:marketplace:thread``,
so Kafka keeps them in one partition and in order. The API exposes an opaque,
URL-safe id derived from the key, so thread ids with odd characters never leak
into URLs and the id can be computed by any service without a lookup.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

_SEGMENT = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_DISCUSSION_NAMESPACE = uuid.UUID("5b3c8f4e-3d3a-4f55-9c1f-6a1d2b7c9e10")

StoreId = Annotated[str, StringConstraints(pattern=_SEGMENT)]
MarketplaceId = Annotated[str, StringConstraints(pattern=_SEGMENT)]
ThreadId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class DiscussionKey(BaseModel):
    """The three coordinates of a discussion; the thread part may hold any text."""

    model_config = ConfigDict(frozen=True)

    store_id: StoreId
    marketplace: MarketplaceId
    thread_id: ThreadId

    def __str__(self) -> str:
        return f"{self.store_id}:{self.marketplace}:{self.thread_id}"

    @property
    def discussion_id(self) -> str:
        """Opaque id used by the API and as the MongoDB ``_id``."""
        return discussion_id_for(str(self))

    @classmethod
    def parse(cls, key: str) -> DiscussionKey:
        """Split at the first two colons only: thread ids may contain colons."""
        parts = key.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"discussion key must be store:marketplace:thread, got {key!r}")
        return cls(store_id=parts[0], marketplace=parts[1], thread_id=parts[2])


def discussion_id_for(key: str) -> str:
    """Deterministic so that replaying the raw topic always lands on the same document."""
    return uuid.uuid5(_DISCUSSION_NAMESPACE, key).hex


def is_valid_segment(value: str) -> bool:
    return re.match(_SEGMENT, value) is not None
