"""The Mirakl family: one client for every Mirakl-powered operator instance."""

from parley_connectors.mirakl.client import MiraklClient, format_datetime
from parley_connectors.mirakl.models import (
    DownloadedFile,
    MiraklAttachment,
    MiraklEntity,
    MiraklMessage,
    MiraklMetadata,
    MiraklOrganization,
    MiraklParticipant,
    MiraklParticipantType,
    MiraklPayloadError,
    MiraklRecipient,
    MiraklReplyResult,
    MiraklSender,
    MiraklThread,
    MiraklTopic,
    OutgoingFile,
)

__all__ = [
    "DownloadedFile",
    "MiraklAttachment",
    "MiraklClient",
    "MiraklEntity",
    "MiraklMessage",
    "MiraklMetadata",
    "MiraklOrganization",
    "MiraklParticipant",
    "MiraklParticipantType",
    "MiraklPayloadError",
    "MiraklRecipient",
    "MiraklReplyResult",
    "MiraklSender",
    "MiraklThread",
    "MiraklTopic",
    "OutgoingFile",
    "format_datetime",
]
