"""The versioned record envelope: CloudEvents 1.0 attributes around a pydantic payload.

Records use the CloudEvents *structured* content mode of the Kafka protocol binding:
the whole envelope is the JSON value, ``content-type`` is
``application/cloudevents+json`` and the Kafka key is the ``subject``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PayloadT = TypeVar("PayloadT", bound=BaseModel)

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


def _new_event_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[PayloadT]):
    """CloudEvents attributes; ``type`` carries the payload's version suffix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=_new_event_id, min_length=1)
    source: str = Field(min_length=1, description="URI-reference of the producing service")
    type: str = Field(min_length=1, description="Reverse-DNS event type with a version suffix")
    time: datetime = Field(default_factory=utcnow)
    subject: str = Field(min_length=1, description="Discussion key store:marketplace:thread")
    datacontenttype: Literal["application/json"] = "application/json"
    data: PayloadT

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class RawEnvelope(BaseModel):
    """An envelope whose payload is not parsed yet: used to route by ``type`` first."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
