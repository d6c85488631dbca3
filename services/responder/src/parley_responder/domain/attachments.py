"""Which of a reply's files travel natively and which as download links (F18), free of I/O.

A marketplace either carries files with the message (Mirakl M12 multipart, Allegro
Message Center after declaration and upload, a mail's MIME parts) or it does not
(Fnac's and Rakuten's reply calls take text only). Where it does, its limits still
apply: a file of a type it refuses, a file too big, or a message or a conversation
that would go over its allowance. Every file that cannot go natively is not dropped
and does not fail the reply: it goes as a signed, expiring download link appended to
the text, which every marketplace can carry. Files are taken in the merchant's order,
so when a budget runs out it is the later files that become links.

The policy of a destination is its family's (``Family.attachments`` in the family's
folder): the Mirakl operator catalogue (per instance, EmpikPlace's 10 MB per
conversation among them), the Allegro client's documented limits, the email relay
profiles, text only for Fnac and Rakuten.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from parley_connectors.family import AttachmentPolicy as AttachmentPolicy
from parley_connectors.registry import families

LINK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ReplyFile:
    """A stored file a reply carries (uploaded by the merchant)."""

    file_id: str
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class LinkedFile:
    file: ReplyFile
    reason: str


@dataclass(frozen=True)
class AttachmentPlan:
    native: tuple[ReplyFile, ...]
    linked: tuple[LinkedFile, ...]

    @property
    def native_bytes(self) -> int:
        return sum(f.size for f in self.native)


def media_type(content_type: str, name: str) -> str:
    """The bare media type, lowercased; guessed from the name when none was given."""
    bare = content_type.split(";")[0].strip().lower()
    if bare and bare != "application/octet-stream":
        return bare
    return (mimetypes.guess_type(name)[0] or "application/octet-stream").lower()


def plan_attachments(
    files: Sequence[ReplyFile], policy: AttachmentPolicy, *, conversation_bytes: int = 0
) -> AttachmentPlan:
    """Splits the files into native ones and links, with the reason for each link.

    ``conversation_bytes`` is what the conversation already carries (what Parley sent
    natively before, and the buyer's files), counted against a per-conversation limit.
    """
    native: list[ReplyFile] = []
    linked: list[LinkedFile] = []
    message_total = 0
    for file in files:
        reason = _why_linked(file, policy, len(native), message_total, conversation_bytes)
        if reason is None:
            native.append(file)
            message_total += file.size
            conversation_bytes += file.size
        else:
            linked.append(LinkedFile(file, reason))
    return AttachmentPlan(tuple(native), tuple(linked))


def _why_linked(
    file: ReplyFile,
    policy: AttachmentPolicy,
    count: int,
    message_total: int,
    conversation_total: int,
) -> str | None:
    limits = policy.set_by
    if not policy.native:
        return policy.why_not_native or f"{limits} does not accept attachments"
    kind = media_type(file.content_type, file.name)
    if policy.allowed_types is not None and kind not in policy.allowed_types:
        return f"{limits} does not accept {kind} files"
    extension = PurePosixPath(file.name.lower()).suffix
    if policy.allowed_extensions is not None and extension not in policy.allowed_extensions:
        return f"{limits} does not accept {extension or 'extension-less'} files"
    if policy.max_file_bytes is not None and file.size > policy.max_file_bytes:
        return f"{limits} accepts files up to {policy.max_file_bytes} bytes"
    if policy.max_files is not None and count >= policy.max_files:
        return f"{limits} accepts at most {policy.max_files} files"
    if (
        policy.max_message_bytes is not None
        and message_total + file.size > policy.max_message_bytes
    ):
        return f"{limits} accepts up to {policy.max_message_bytes} bytes of files per message"
    if (
        policy.max_conversation_bytes is not None
        and conversation_total + file.size > policy.max_conversation_bytes
    ):
        return (
            f"{limits} accepts up to {policy.max_conversation_bytes} bytes of files per "
            f"conversation, {conversation_total} already used"
        )
    return None


def policy_for(family: str, marketplace: str, thread_id: str) -> AttachmentPolicy:
    """The attachment policy of one destination (family, marketplace instance, thread),
    as its family declares it; a family no folder declares accepts no files natively."""
    found = families().get(family)
    if found is None or found.attachments is None:
        return AttachmentPolicy(native=False, set_by=family)
    return found.attachments(marketplace, thread_id)


def append_links(body: str, links: Iterable[tuple[str, str]]) -> str:
    """The text with one ``name: url`` line per link, after a blank line, at the end."""
    lines = [f"{name}: {url}" for name, url in links]
    if not lines:
        return body
    return body.rstrip() + LINK_SEPARATOR + "\n".join(lines)
