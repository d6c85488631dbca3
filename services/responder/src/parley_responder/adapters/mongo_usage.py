"""How many bytes of files a conversation already carries, for per-conversation limits.

EmpikPlace allows 10 MB of attachments per conversation. Counted: what Parley sent
natively in earlier replies (their outbox records, once sent) and what the other
side sent (the inbound messages' attachments as synced). Counting both errs on the
safe side: a file that might go over is sent as a download link instead, never
refused by the marketplace.

Both are read by ``_id``. What Parley sent is summed up in the responder's own
``conversation_usage`` document of the discussion (``_id`` the discussion id), one
entry per reply sent with native files (:func:`record_sent`, written by the outbox
when a reply is sent, before its record says so); the buyer's side is the thread's
inbound messages (:mod:`.mongo_threads`). Asking ``deliveries`` and ``messages`` by
``discussion_id`` would scan both collections whole on FerretDB v1.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.adapters.mongo_threads import MongoThreadReader

CONVERSATION_USAGE = "conversation_usage"  # _id: discussion id; sent.<command key>: bytes


def command_key(command_id: str) -> str:
    """A reply's field name under ``sent``: a digest of its command id, since a command
    id may hold ``.`` or ``$``, which a field name may not."""
    return hashlib.sha256(command_id.encode()).hexdigest()[:32]


async def record_sent(
    db: AsyncDatabase[Any], discussion_id: str, command_id: str, native_bytes: int
) -> None:
    """Counts a reply's native files in its conversation (idempotent per command)."""
    await db[CONVERSATION_USAGE].update_one(
        {"_id": discussion_id},
        {"$set": {f"sent.{command_key(command_id)}": native_bytes}},
        upsert=True,
    )


class MongoConversationUsage:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._usage = db[CONVERSATION_USAGE]
        self._threads = MongoThreadReader(db)

    async def attachment_bytes(self, discussion_id: str, excluding_command: str) -> int:
        total = 0
        usage = await self._usage.find_one({"_id": discussion_id})
        excluded = command_key(excluding_command)
        for key, size in ((usage or {}).get("sent") or {}).items():
            if key != excluded:
                total += int(size or 0)
        discussion = await self._threads.discussion(discussion_id)
        if discussion is None:
            return total
        messages = await self._threads.messages(discussion, {"direction": 1, "attachments.size": 1})
        for doc in messages:
            if doc.get("direction") == "inbound":
                total += sum(int(a.get("size") or 0) for a in doc.get("attachments") or [])
        return total
