"""Decoding of envelopes by their ``type``: the single place a record is parsed.

Failures raise :class:`UndecodableRecord` with a human reason, which consumers put
on the dead-letter topic before moving on.

Only the CloudEvents *structured* content mode is accepted (what every Parley
producer writes, :mod:`parley_schemas.envelope`). A *binary*-mode record — attributes
in ``ce_*`` headers, the bare payload as the value — is refused with a reason that
says so: by its headers when the caller passes them, else by a value that is a JSON
object without ``specversion``. Extension attributes are kept on the decoded
envelope, so a record re-published from it carries them unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .envelope import CLOUDEVENTS_CONTENT_TYPE, Envelope, RawEnvelope
from .topics import RECORD_TYPES, Topic

BINARY_MODE_REFUSED = (
    "CloudEvents binary content mode (attributes in ce_* headers) is not accepted: "
    f"Parley topics carry structured mode (content-type {CLOUDEVENTS_CONTENT_TYPE}, "
    "the whole event as the JSON value)"
)

Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]]


class UndecodableRecord(ValueError):
    """The bytes are not a valid envelope of a type this topic carries."""


def decode(
    value: bytes | None, topic: Topic | None = None, *, headers: Headers | None = None
) -> Envelope[Any]:
    """The envelope in ``value``, its payload parsed by its ``type``.

    ``headers`` (the Kafka record's, optional) only serve to recognise a binary-mode
    record and say so; a structured record's attributes are all in its value."""
    if headers is not None and _is_binary_mode(headers):
        raise UndecodableRecord(BINARY_MODE_REFUSED)
    if value is None:
        raise UndecodableRecord("empty record value (tombstone) where an envelope was expected")
    try:
        raw = RawEnvelope.model_validate_json(value)
    except ValidationError as exc:
        if _lacks_specversion(value):
            raise UndecodableRecord(
                f"not a CloudEvents envelope: no specversion ({BINARY_MODE_REFUSED})"
            ) from exc
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
        dataschema=raw.dataschema,
        data=payload,
        **raw.extensions,
    )


def _is_binary_mode(headers: Headers) -> bool:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return any(name.lower().startswith("ce_") for name, _ in items)


def _lacks_specversion(value: bytes) -> bool:
    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "specversion" not in parsed


def _summary(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
