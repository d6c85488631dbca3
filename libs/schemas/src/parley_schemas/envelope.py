"""The versioned record envelope: CloudEvents 1.0 attributes around a pydantic payload.

Records use the CloudEvents *structured* content mode of the Kafka protocol binding:
the whole envelope is the JSON value, ``content-type`` is
``application/cloudevents+json`` and the Kafka key is the ``subject``. The *binary*
content mode (attributes in ``ce_*`` headers, the payload alone as the value) is not
accepted on Parley topics: :func:`parley_schemas.codec.decode` refuses it by name.

Attributes, per the CloudEvents 1.0 spec and what Parley's consumers need:

- REQUIRED by the spec, so required by the parser too: ``id``, ``source``,
  ``specversion``, ``type``.
- ``subject`` is OPTIONAL in the spec but every Parley record type defines it as the
  discussion key ``store:marketplace:thread`` (it is the Kafka key, it orders a
  discussion's records and names the discussion a dead letter belongs to): a record
  without one cannot be routed, so it is required.
- ``time`` is OPTIONAL in the spec. Every Parley producer sets it, so the published
  JSON Schema lists it in ``required`` (what consumers may rely on for Parley's own
  records), but the parser accepts a record without it (``time`` is then ``None``):
  no Parley handler reads it, and a spec-conformant record from another producer
  must not be dead-lettered for leaving out an optional attribute.
- ``datacontenttype`` (always ``application/json``; absent means JSON in the JSON
  event format) and ``dataschema`` are optional.
- Extension attributes (``partitionkey`` added by the SDK's Kafka binding, a
  consumer's ``tenant``...) are accepted and kept: parse → serialise writes them
  back unchanged. Their names follow the spec's naming rule (lower-case ASCII letters
  and digits only; the spec recommends at most 20 characters, which is not enforced),
  their values are the JSON forms of the spec's type system: string, integer (signed
  32-bit) or boolean. A ``null`` extension means "not set" (JSON event format) and is
  dropped. An invalid name or value is a validation error that names the attribute.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

PayloadT = TypeVar("PayloadT", bound=BaseModel)

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

# The spec's attribute naming rule (CloudEvents 1.0, "Attribute Naming Convention").
EXTENSION_NAME_PATTERN: Final = "^[a-z0-9]+$"
_EXTENSION_NAME = re.compile(EXTENSION_NAME_PATTERN)
# Names the JSON event format reserves: never an extension.
RESERVED_NAMES: Final = frozenset({"data", "data_base64"})
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1

ExtensionValue = StrictBool | Annotated[StrictInt, Field(ge=INT32_MIN, le=INT32_MAX)] | StrictStr
"""An extension attribute's value: the spec's Boolean, Integer or String (URI,
URI-reference, Binary and Timestamp travel as strings in the JSON event format)."""

# The envelope's own attributes; every other top-level member is an extension.
_ATTRIBUTES: Final = frozenset(
    {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "dataschema",
        "data",
    }
)
# What every Parley record carries; the published JSON Schema requires these.
PUBLISHED_REQUIRED: Final = ("specversion", "id", "source", "type", "time", "subject", "data")


def _new_event_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC, a naive one taken as UTC already: BSON dates come back
    naive from a client that is not tz-aware, and a marketplace that drops the offset
    should not cost the merchant a conversation. The one rule for every date Parley
    keeps or compares."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _extensions_of(values: Any) -> Any:
    """Checks extension names before pydantic stores them; drops ``null`` ones."""
    if not isinstance(values, dict):
        return values
    kept: dict[str, Any] = {}
    for name, value in values.items():
        if name in _ATTRIBUTES:
            kept[name] = value
            continue
        if name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is reserved by the CloudEvents JSON format")
        if not isinstance(name, str) or not _EXTENSION_NAME.fullmatch(name):
            raise ValueError(
                f"invalid extension attribute name {name!r}: CloudEvents attribute "
                "names are lower-case ASCII letters and digits only (a-z, 0-9)"
            )
        if value is not None:  # JSON event format: null means the attribute is unset
            kept[name] = value
    return kept


def _published_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema consumers code against: extensions allowed by the spec's
    naming rule and type system, and every attribute Parley always sends required
    (``time`` included, though the parser tolerates its absence: see the module)."""
    properties = schema.get("properties", {})
    if "time" in properties:
        properties["time"] = {
            "format": "date-time",
            "title": "Time",
            "type": "string",
            "description": "When the occurrence happened; always set by Parley",
        }
    schema["required"] = [name for name in PUBLISHED_REQUIRED if name in properties]
    schema["propertyNames"] = {"pattern": EXTENSION_NAME_PATTERN}
    schema["additionalProperties"] = {
        "description": (
            "CloudEvents extension attribute (name: a-z and 0-9 only, at most 20 "
            "characters recommended); null means unset"
        ),
        "anyOf": [
            {"type": "string"},
            {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX},
            {"type": "boolean"},
            {"type": "null"},
        ],
    }


class _CloudEvent(BaseModel):
    """Extension handling shared by :class:`Envelope` and :class:`RawEnvelope`."""

    model_config = ConfigDict(frozen=True, extra="allow", json_schema_extra=_published_schema)

    # Typed extras: pydantic validates every extension value against this.
    __pydantic_extra__: dict[str, ExtensionValue] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _check_extension_names(cls, values: Any) -> Any:
        return _extensions_of(values)

    @property
    def extensions(self) -> dict[str, str | int | bool]:
        """The extension attributes, by name (a copy)."""
        return dict(self.__pydantic_extra__ or {})

    def with_extensions(self, **extensions: str | int | bool | None) -> Self:
        """A copy with these extension attributes added (``None`` removes one)."""
        values = dict(self)
        for name, value in extensions.items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        return type(self)(**values)


class Envelope(_CloudEvent, Generic[PayloadT]):
    """CloudEvents attributes; ``type`` carries the payload's version suffix.

    Producers add extension attributes as keyword arguments (``tenant="t1"``) or with
    :meth:`with_extensions`; they are written at the top level of the JSON value."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=_new_event_id, min_length=1)
    source: str = Field(min_length=1, description="URI-reference of the producing service")
    type: str = Field(min_length=1, description="Reverse-DNS event type with a version suffix")
    time: datetime | None = Field(
        default_factory=utcnow,
        description="Always set by Parley; None only on a received record that has none",
    )
    subject: str = Field(min_length=1, description="Discussion key store:marketplace:thread")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(
        default=None, min_length=1, description="URI of the payload's schema (optional)"
    )
    data: PayloadT

    def to_json_bytes(self) -> bytes:
        """The structured-mode JSON value; optional attributes that are unset are left
        out rather than written as ``null`` (equivalent in the JSON event format)."""
        unset = {name for name in ("time", "dataschema") if getattr(self, name) is None}
        return self.model_dump_json(exclude=unset or None).encode()


class RawEnvelope(_CloudEvent):
    """An envelope whose payload is not parsed yet: used to route by ``type`` first.

    Spec-required attributes are required; ``time`` may be absent (module docstring)."""

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime | None = None
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(default=None, min_length=1)
    data: dict[str, Any]
