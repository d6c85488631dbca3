"""Turns a reply command into what actually goes out: the text, its native files and
the download links of the others (F18).

Decided once per command (and merchant retry) and kept in the outbox by the
:class:`~parley_responder.handlers.Responder`, because the links carry an expiry:
computing them again at the next attempt would change the text, and the check that
asks a marketplace "did our reply arrive?" after a crash compares texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from parley_connectors.files import OutgoingFile
from parley_connectors.reply_rules import RuleViolation, body_limit, rules_of
from parley_platform.signed_links import LinkSigner, download_url, link_expiry
from parley_responder.domain.attachments import (
    ReplyFile,
    append_links,
    plan_attachments,
    policy_for,
)
from parley_responder.ports import ConversationUsage, FileSource, PreparedReply
from parley_schemas import ReplyCommand, utcnow
from parley_store import FileNotStored

LINKS_NOT_CONFIGURED = (
    "the reply's files cannot be sent natively and download links are not configured "
    "(LINK_SIGNING_KEY)"
)


class ReplyPreparer:
    def __init__(
        self,
        files: FileSource,
        usage: ConversationUsage,
        signer: LinkSigner | None,
        public_base_url: str,
        link_ttl_seconds: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._files = files
        self._usage = usage
        self._signer = signer
        self._base_url = public_base_url
        self._ttl = link_ttl_seconds
        self._clock = clock

    async def prepare(self, command: ReplyCommand, family: str, *, retry: int) -> PreparedReply:
        """The reply as it will be sent; RuleViolation when it cannot be.

        A file that is missing or belongs to another store fails the reply: sending
        the text without a file the merchant meant to attach would mislead the buyer.
        """
        if not command.attachment_file_ids:
            return PreparedReply(body=command.body, retry=retry)
        files = [await self._file(command, file_id) for file_id in command.attachment_file_ids]
        policy = policy_for(family, command.marketplace, command.thread_id)
        used = 0
        if policy.native and policy.max_conversation_bytes is not None:
            used = await self._usage.attachment_bytes(command.discussion_id, command.command_id)
        plan = plan_attachments(files, policy, conversation_bytes=used)
        body = command.body
        if plan.linked:
            if self._signer is None:
                raise RuleViolation(LINKS_NOT_CONFIGURED)
            expires = link_expiry(self._clock(), self._ttl)
            signer = self._signer
            links = [
                (x.file.name, download_url(self._base_url, signer.sign(x.file.file_id, expires)))
                for x in plan.linked
            ]
            body = append_links(command.body, links)
            rules = rules_of(family)
            if rules is not None:
                limit, set_by = body_limit(family, command.marketplace, rules)
                if len(body) > limit:
                    raise RuleViolation(
                        f"reply with {len(links)} download link(s) is {len(body)} characters; "
                        f"{set_by} accepts {limit}: shorten the text or attach fewer files"
                    )
        return PreparedReply(body=body, native=plan.native, linked=plan.linked, retry=retry)

    async def load(self, files: Sequence[ReplyFile]) -> list[OutgoingFile]:
        """The bytes of the native files; RuleViolation when one is gone."""
        loaded: list[OutgoingFile] = []
        for file in files:
            try:
                stored = await self._files.open(file.file_id)
            except FileNotStored as exc:
                raise RuleViolation(f"attachment {file.file_id} is no longer stored") from exc
            loaded.append(OutgoingFile(file.name, stored.content, file.content_type))
        return loaded

    async def _file(self, command: ReplyCommand, file_id: str) -> ReplyFile:
        info = await self._files.describe(file_id)
        if info is None or info.store_id != command.store_id:
            raise RuleViolation(f"attachment {file_id} is not a file of store {command.store_id}")
        return ReplyFile(info.file_id, info.name, info.content_type, info.size)
