"""Typed models of the Mirakl messaging wire format (M10, M11, M12, M13).

Field names are Mirakl's own, so a model reads like the documentation and a payload
can be compared to it line by line. Parsing is lenient where Mirakl asks integrators
to be ("allow for new fields", "allow for new enumeration values": unknown fields are
kept, enumerations are plain strings) and strict where Parley cannot work without a
value (ids, dates, message bodies, senders): a thread missing one of those fails with
a :class:`MiraklPayloadError` naming the thread, so the caller dead-letters that one
thread and goes on.

Fields the documentation marks required but Parley does not need (for example a
participant's ``display_name``) are optional here on purpose: a marketplace that
leaves one out should not cost the merchant a conversation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from parley_connectors.errors import PayloadError
from parley_connectors.files import DownloadedFile as DownloadedFile
from parley_connectors.files import OutgoingFile as OutgoingFile
from parley_connectors.payloads import UtcDatetime, describe_validation_error


class MiraklPayloadError(PayloadError):
    """A Mirakl answer that does not match the documented shape."""


class MiraklModel(BaseModel):
    """Base of the wire models: unknown fields are kept, never an error."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class MiraklParticipantType(StrEnum):
    """Who takes part in a thread (participants, recipients, organizations)."""

    CUSTOMER = "CUSTOMER"
    OPERATOR = "OPERATOR"
    SHOP = "SHOP"


class MiraklTopic(MiraklModel):
    """The thread's subject: free text, or an operator-defined reason code."""

    type: str | None = None  # FREE_TEXT | REASON_CODE
    value: str | None = None


class MiraklEntity(MiraklModel):
    """What the thread is about: an order (MMP_ORDER), an offer (MMP_OFFER) …"""

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    label: str | None = None


class MiraklParticipant(MiraklModel):
    """A participant or recipient. Mirakl sends no ``id`` for the operator."""

    type: str = Field(min_length=1)
    id: str | None = None
    display_name: str | None = None


class MiraklOrganization(MiraklModel):
    """The organization a message sender belongs to (the customer, the shop, the operator)."""

    type: str | None = None
    id: str | None = None
    display_name: str | None = None


class MiraklSender(MiraklModel):
    """A message's ``from``.

    ``type`` names the sending *user* kind (public integrations see ``CUSTOMER_USER``,
    ``SHOP_USER``, ``OPERATOR_USER``), ``organization_details.type`` the party
    (``CUSTOMER``, ``SHOP``, ``OPERATOR``). :attr:`party` reads either.
    """

    type: str = Field(min_length=1)
    display_name: str | None = None
    organization_details: MiraklOrganization | None = None

    @property
    def party(self) -> str:
        """CUSTOMER, SHOP or OPERATOR when recognisable, else Mirakl's raw type."""
        if self.organization_details is not None and self.organization_details.type:
            return self.organization_details.type.upper()
        kind = self.type.upper()
        return kind.removesuffix("_USER")


class MiraklAttachment(MiraklModel):
    """An attachment as listed on a message; its bytes come from M13."""

    id: str = Field(min_length=1)
    name: str
    size: int | None = Field(default=None, ge=0)


class MiraklMessage(MiraklModel):
    id: str = Field(min_length=1)
    body: str
    date_created: UtcDatetime
    sender: MiraklSender = Field(alias="from")
    to: list[MiraklParticipant] = Field(default_factory=list)
    attachments: list[MiraklAttachment] = Field(default_factory=list)


class MiraklMetadata(MiraklModel):
    last_message_date: UtcDatetime | None = None
    last_sender: MiraklSender | None = None
    shop_reply_needed_since: UtcDatetime | None = None
    total_count: int | None = None


class MiraklCustomerOrganization(MiraklModel):
    """The buying company, on B2B marketplaces."""

    id: str | None = None
    display_name: str | None = None


class MiraklNoStoreReplyNeeded(MiraklModel):
    date: UtcDatetime | None = None
    user_type: str | None = None


class MiraklThread(MiraklModel):
    """One thread as M10 or M11 returns it.

    ``messages`` is empty when M11 was called with ``with_messages=false``; M11 also
    caps it at the thread's last 100 messages, M10 does not.
    """

    id: str = Field(min_length=1)
    topic: MiraklTopic | None = None
    entities: list[MiraklEntity] = Field(default_factory=list)
    authorized_participants: list[MiraklParticipant] = Field(default_factory=list)
    current_participants: list[MiraklParticipant] = Field(default_factory=list)
    customer_organization: MiraklCustomerOrganization | None = None
    date_created: UtcDatetime
    date_updated: UtcDatetime
    messages: list[MiraklMessage] = Field(default_factory=list)
    metadata: MiraklMetadata | None = None
    no_store_reply_needed: list[MiraklNoStoreReplyNeeded] = Field(default_factory=list)

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON object exactly as Mirakl sent it, for audit and replays."""
        return self._raw

    @classmethod
    def parse(cls, payload: Any) -> MiraklThread:
        """Reads one thread, or raises :class:`MiraklPayloadError` saying what is wrong."""
        if not isinstance(payload, dict):
            raise MiraklPayloadError(
                f"a thread must be a JSON object, got {type(payload).__name__}", payload=payload
            )
        raw_id = payload.get("id")
        thread_id = raw_id if isinstance(raw_id, str) and raw_id else None
        try:
            thread = cls.model_validate(payload)
        except ValidationError as exc:
            raise MiraklPayloadError(
                describe_validation_error(exc), thread_id=thread_id, payload=payload
            ) from exc
        thread._raw = payload
        return thread


class MiraklRecipient(MiraklModel):
    """A recipient of a reply (M12 ``message_input.to``)."""

    type: MiraklParticipantType
    id: str | None = None


class MiraklReplyResult(MiraklModel):
    """M12's answer: the id Mirakl gave the new message."""

    message_id: str = Field(min_length=1)
    thread_id: str = Field(min_length=1)


# --- order documents (OR72, OR74) ---------------------------------------------------


class MiraklOrderDocument(MiraklModel):
    """A document of an order as OR72 lists it. The type code is ``type`` in the
    answer (Mirakl's SDK reads it as ``type_code``); both are accepted."""

    id: str = Field(min_length=1)
    file_name: str
    order_id: str | None = None
    type: str | None = None
    type_code: str | None = None
    file_size: int | None = Field(default=None, ge=0)
    date_uploaded: UtcDatetime | None = None

    @property
    def code(self) -> str | None:
        return self.type or self.type_code


class MiraklError(MiraklModel):
    code: str | None = None
    message: str | None = None
    field: str | None = None


class MiraklDocumentWithErrors(MiraklModel):
    """One document of an OR74 upload, with what Mirakl held against it."""

    file_name: str | None = None
    type_code: str | None = None
    errors: list[MiraklError] = Field(default_factory=list)


class MiraklDocumentsUploadResult(MiraklModel):
    """OR74's answer: how many documents failed, and the errors of each."""

    errors_count: int = Field(default=0, ge=0)
    order_documents: list[MiraklDocumentWithErrors] = Field(default_factory=list)

    def errors_of(self, file_name: str) -> list[str]:
        """The reasons given for one file (empty: Mirakl took it)."""
        return [
            e.message or e.code or "refused"
            for d in self.order_documents
            if d.file_name == file_name
            for e in d.errors
        ]
