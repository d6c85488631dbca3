"""Decoding of envelopes by their ``type``: the single place a record is parsed.

Failures raise :class:`UndecodableRecord` with a human reason, which consumers put
on the dead-letter topic before moving on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from .envelope import Envelope, RawEnvelope
from .topics import RECORD_TYPES, Topic


class UndecodableRecord(ValueError):
    """The bytes are not a valid envelope of a type this topic carries."""


def decode(value: bytes | None, topic: Topic | None = None) -> Envelope[Any]:
    if value is None:
        raise UndecodableRecord("empty record value (tombstone) where an envelope was expected")
    try:
        raw = RawEnvelope.model_validate_json(value)
    except ValidationError as exc:
        raise UndecodableRecord(f"not a CloudEvents envelope: {_summary(exc)}") from exc
    record_type = RECORD_TYPES.get(raw.type)
    if record_type is None:
        raise UndecodableRecord(f"unknown record type {raw.type!r}")
    if topic is not None and record_type not in topic.record_types:
        raise UndecodableRecord(f"record type {raw.type!r} does not belong on {topic.name}")
    try:
        payload: BaseModel = record_type.model.model_validate(raw.data)
    except ValidationError as exc:
        raise UndecodableRecord(f"invalid {raw.type} payload: {_summary(exc)}") from exc
    return Envelope[Any](
        id=raw.id,
        source=raw.source,
        type=raw.type,
        time=raw.time,
        subject=raw.subject,
        data=payload,
    )


def _summary(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
