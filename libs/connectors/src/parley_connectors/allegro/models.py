"""Typed models of Allegro's Message Center and post-purchase issues wire format.

Allegro writes its JSON in camelCase; the models use snake_case attributes with
camelCase aliases, so ``message.created_at`` reads ``createdAt`` exactly as the
reference documents it. Parsing is lenient where Allegro's own clients must be
(unknown fields are kept, enumerations are plain strings, fields Parley does not
need are optional even when the reference marks them required) and strict where
Parley cannot work without a value (ids, dates, authors): such a thread or issue
fails with :class:`AllegroPayloadError` naming it, so the caller dead-letters that
one conversation and goes on.

Two channels share one family and one discussion-key space, so their thread ids
must not collide and must say which API answers them: a Message Center thread keeps
Allegro's thread id, a post-purchase issue becomes ``issue:<issueId>``
(:func:`thread_key` / :func:`parse_thread_key`). Attachment ids follow the same rule.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from parley_connectors.errors import PayloadError
from parley_connectors.files import DownloadedFile as DownloadedFile
from parley_connectors.files import OutgoingFile as OutgoingFile
from parley_connectors.payloads import UtcDatetime, describe_validation_error


class AllegroPayloadError(PayloadError):
    """An Allegro answer that does not match the documented shape."""


class Channel(StrEnum):
    """Allegro's two conversation channels, kept apart on snapshots."""

    MESSAGE_CENTER = "message_center"
    DISCUSSIONS = "discussions"


ISSUE_PREFIX = "issue:"


def thread_key(channel: Channel, allegro_id: str) -> str:
    """Parley's thread id for an Allegro thread (as is) or issue (``issue:<id>``)."""
    if not allegro_id:
        raise ValueError("an Allegro id is required")
    return f"{ISSUE_PREFIX}{allegro_id}" if channel is Channel.DISCUSSIONS else allegro_id


def parse_thread_key(key: str) -> tuple[Channel, str]:
    """The channel and Allegro id behind a Parley thread (or attachment) id."""
    if key.startswith(ISSUE_PREFIX):
        allegro_id = key.removeprefix(ISSUE_PREFIX)
        channel = Channel.DISCUSSIONS
    else:
        allegro_id, channel = key, Channel.MESSAGE_CENTER
    if not allegro_id:
        raise ValueError(f"not an Allegro thread id: {key!r}")
    return channel, allegro_id


class AllegroModel(BaseModel):
    """Base of the wire models: camelCase on the wire, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, frozen=True, alias_generator=to_camel
    )


def _last_segment(url: str | None) -> str | None:
    """An attachment's id is the last path segment of its documented ``url``."""
    if not url:
        return None
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return segment or None


# --- Message Center ----------------------------------------------------------------------


class Interlocutor(AllegroModel):
    """The other party of a thread (the buyer), e.g. ``client:44300444``."""

    login: str | None = None
    avatar_url: str | None = None


class MessageAuthor(AllegroModel):
    login: str | None = None
    is_interlocutor: bool


class RelatedObject(AllegroModel):
    id: str = Field(min_length=1)


class MessageRelatedObject(AllegroModel):
    """What a message is about: an offer (pre-sale) and/or an order."""

    offer: RelatedObject | None = None
    order: RelatedObject | None = None


class MessageAttachmentInfo(AllegroModel):
    """An attachment as listed on a message; its bytes come from the download call."""

    file_name: str
    mime_type: str | None = None
    url: str | None = None
    status: str | None = None  # NEW | SAFE | UNSAFE | EXPIRED

    @property
    def attachment_id(self) -> str | None:
        return _last_segment(self.url)


class ThreadId(AllegroModel):
    id: str


class AllegroMessage(AllegroModel):
    """One Message Center message (``GET /messaging/threads/{threadId}/messages``)."""

    id: str = Field(min_length=1)
    status: str | None = None  # VERIFYING | BLOCKED | DELIVERED | INTERACTING | DISMISSED
    type: str | None = None  # ASK_QUESTION | MAIL | MESSAGE_CENTER
    created_at: UtcDatetime
    thread: ThreadId | None = None
    author: MessageAuthor
    text: str
    subject: str | None = None
    relates_to: MessageRelatedObject | None = None
    has_additional_attachments: bool = False
    attachments: list[MessageAttachmentInfo] = Field(default_factory=list)


class AllegroThread(AllegroModel):
    """One thread as ``GET /messaging/threads`` lists it (no messages)."""

    id: str = Field(min_length=1)
    read: bool
    last_message_date_time: UtcDatetime | None = None
    interlocutor: Interlocutor | None = None


# --- post-purchase issues ----------------------------------------------------------------


class IssueAuthor(AllegroModel):
    """``login`` is absent for the ADMIN, SYSTEM and FULFILLMENT roles."""

    login: str | None = None
    role: str = Field(min_length=1)  # BUYER | SELLER | ADMIN | SYSTEM | FULFILLMENT


class IssueAttachment(AllegroModel):
    file_name: str
    url: str | None = None

    @property
    def attachment_id(self) -> str | None:
        return _last_segment(self.url)


class IssueMessage(AllegroModel):
    """One message of an issue's chat; text or attachments, at least one of them."""

    id: str = Field(min_length=1)
    text: str | None = None
    attachments: list[IssueAttachment] = Field(default_factory=list)
    author: IssueAuthor
    created_at: UtcDatetime


class IssueBuyer(AllegroModel):
    id: str | None = None
    login: str | None = None


class IssueCheckoutForm(AllegroModel):
    id: str = Field(min_length=1)
    created_at: UtcDatetime | None = None


class IssueState(AllegroModel):
    status: str | None = None  # DISPUTE_ONGOING, CLAIM_SUBMITTED …
    status_due_date: UtcDatetime | None = None
    return_required: bool | None = None
    chat_active: bool | None = None


class IssueLastMessage(AllegroModel):
    status: str | None = None  # BUYER_REPLIED …
    created_at: UtcDatetime | None = None


class IssueChatSummary(AllegroModel):
    last_message: IssueLastMessage | None = None
    messages_count: int | None = Field(default=None, ge=0)
    initial_message: IssueMessage | None = None


class IssueOffer(AllegroModel):
    id: str = Field(min_length=1)
    quantity: int | None = None


class IssueProduct(AllegroModel):
    id: str = Field(min_length=1)


class IssueReason(AllegroModel):
    type: str | None = None
    description: str | None = None


class AllegroIssue(AllegroModel):
    """One dispute or claim (``GET /sale/issues``, ``GET /sale/issues/{issueId}``)."""

    id: str = Field(min_length=1)
    type: str | None = None  # DISPUTE | CLAIM
    reference_number: str | None = None
    decision_due_date: UtcDatetime | None = None
    opened_date: UtcDatetime
    subject: str | None = None
    buyer: IssueBuyer | None = None
    checkout_form: IssueCheckoutForm | None = None
    current_state: IssueState | None = None
    chat: IssueChatSummary | None = None
    description: str | None = None
    offer: IssueOffer | None = None
    product: IssueProduct | None = None
    reason: IssueReason | None = None
    right: str | None = None
    attachments: list[IssueAttachment] = Field(default_factory=list)

    @property
    def last_activity(self) -> datetime:
        """When the issue last changed hands: its last message, else its opening."""
        last = self.chat.last_message if self.chat else None
        if last is not None and last.created_at is not None:
            return max(last.created_at, self.opened_date)
        return self.opened_date

    @property
    def chat_active(self) -> bool:
        state = self.current_state
        return state is None or state.chat_active is not False


# --- parsing -----------------------------------------------------------------------------


def parse(model: type[AllegroModel], payload: Any, *, what: str, thread: str | None = None) -> Any:
    """Validates one object or raises :class:`AllegroPayloadError` saying what is wrong.

    ``thread`` is the Parley thread id the object belongs to, when known; otherwise
    the object's own ``id`` is used (wrapped by the caller's channel).
    """
    if not isinstance(payload, dict):
        raise AllegroPayloadError(
            f"{what} must be a JSON object, got {type(payload).__name__}",
            thread_id=thread,
            payload=payload,
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise AllegroPayloadError(
            f"{what}: {describe_validation_error(exc)}", thread_id=thread, payload=payload
        ) from exc


def parse_thread(payload: Any) -> AllegroThread:
    thread: AllegroThread = parse(
        AllegroThread, payload, what="thread", thread=_id_of(payload, Channel.MESSAGE_CENTER)
    )
    return thread


def parse_message(payload: Any, thread_id: str) -> AllegroMessage:
    message: AllegroMessage = parse(AllegroMessage, payload, what="message", thread=thread_id)
    return message


def parse_issue(payload: Any) -> AllegroIssue:
    issue: AllegroIssue = parse(
        AllegroIssue, payload, what="issue", thread=_id_of(payload, Channel.DISCUSSIONS)
    )
    return issue


def parse_issue_message(payload: Any, issue_id: str) -> IssueMessage:
    message: IssueMessage = parse(
        IssueMessage,
        payload,
        what="issue message",
        thread=thread_key(Channel.DISCUSSIONS, issue_id),
    )
    return message


def _id_of(payload: Any, channel: Channel) -> str | None:
    raw = payload.get("id") if isinstance(payload, dict) else None
    return thread_key(channel, raw) if isinstance(raw, str) and raw else None
