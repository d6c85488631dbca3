"""How many bytes of files a conversation already carries, for per-conversation limits.

EmpikPlace allows 10 MB of attachments per conversation. Counted: what Parley sent
natively in earlier replies (their outbox records, once sent) and what the other
side sent (the inbound messages' attachments as synced). Counting both errs on the
safe side: a file that might go over is sent as a download link instead, never
refused by the marketplace.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_store import DELIVERIES, MESSAGES


class MongoConversationUsage:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._deliveries = db[DELIVERIES]
        self._messages = db[MESSAGES]

    async def attachment_bytes(self, discussion_id: str, excluding_command: str) -> int:
        total = 0
        sent = self._deliveries.find(
            {"discussion_id": discussion_id, "state": "sent", "_id": {"$ne": excluding_command}},
            {"prepared.native_bytes": 1},
        )
        async for doc in sent:
            total += int((doc.get("prepared") or {}).get("native_bytes") or 0)
        inbound = self._messages.find(
            {"discussion_id": discussion_id, "direction": "inbound"}, {"attachments.size": 1}
        )
        async for doc in inbound:
            total += sum(int(a.get("size") or 0) for a in doc.get("attachments") or [])
        return total
