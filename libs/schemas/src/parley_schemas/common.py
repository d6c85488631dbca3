"""Value types shared by several records."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base of every payload: strict about unknown fields from *our* producers.

    ``extra="ignore"`` would hide typos; consumers of a newer minor version must not
    break either, so additive fields are only ever introduced as optional ones and the
    JSON Schema compatibility test in tests/unit/schemas guards that rule.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


class ParticipantRole(StrEnum):
    CUSTOMER = "customer"
    OPERATOR = "operator"
    MERCHANT = "merchant"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Organization(Record):
    """The company a participant acts for, as the marketplace names it (B2B buyers)."""

    name: str | None = Field(default=None, description="The company's name")
    id: str | None = Field(default=None, description="The marketplace's id for the company")


class Participant(Record):
    role: ParticipantRole
    name: str | None = None
    email: str | None = None
    marketplace_id: str | None = Field(
        default=None, description="The marketplace's own id for this participant"
    )
    organization: Organization | None = Field(
        default=None,
        description="The company the participant acts for, where the marketplace gives one "
        "(e.g. Mirakl's customer_organization on B2B threads)",
    )


class AttachmentRef(Record):
    """An attachment as the marketplace describes it, plus Parley's stored file once fetched."""

    marketplace_attachment_id: str | None = None
    name: str
    size: int | None = Field(default=None, ge=0)
    content_type: str | None = None
    file_id: str | None = Field(default=None, description="Parley file storage id")
