"""A synced thread written the way the normalizer leaves it, for the responder's tests.

The responder reads what the normalizer stored: the discussion (``_id`` its key's
discussion id) carrying ``message_ids``, and each message by its derived ``_id``
(:func:`parley_store.inbound_message_id`). Writing those documents here, from the
normalizer's own field mapping (``parley_normalizer.domain.threads``), keeps the
responder's tests on that contract instead of on the normalizer's batch machinery.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_normalizer.domain.threads import direction, synced_fields
from parley_schemas import RawThreadSnapshot
from parley_store import DISCUSSIONS, MESSAGES, inbound_message_id

MESSAGE_IDS = "message_ids"


async def store_snapshot(db: AsyncDatabase[Any], snapshot: RawThreadSnapshot) -> list[str]:
    """Adds the snapshot's discussion (if new) and messages; returns the new messages' ids."""
    key = snapshot.key
    discussion_id = key.discussion_id
    synced = synced_fields(snapshot)
    added: list[str] = []
    for message in snapshot.messages:
        message_id = inbound_message_id(discussion_id, message.marketplace_message_id)
        result = await db[MESSAGES].update_one(
            {"_id": message_id},
            {
                "$setOnInsert": {
                    "discussion_id": discussion_id,
                    "direction": direction(message).value,
                    "sender": message.sender.model_dump(mode="json"),
                    "recipients": [r.value for r in message.recipients],
                    "body": message.body,
                    "sent_at": message.sent_at,
                    "attachments": [a.model_dump(mode="json") for a in message.attachments],
                    "marketplace_message_id": message.marketplace_message_id,
                    "command_id": None,
                    "delivery": None,
                }
            },
            upsert=True,
        )
        if result.upserted_id is not None:
            added.append(message_id)
    await db[DISCUSSIONS].update_one(
        {"_id": discussion_id},
        {
            "$set": synced.fields,
            "$addToSet": {MESSAGE_IDS: {"$each": added}},
            "$setOnInsert": {
                "key": str(key),
                "store_id": snapshot.store_id,
                "marketplace": snapshot.marketplace,
                "thread_id": snapshot.thread_id,
                "created_at": synced.created_at,
                "status": "new",
                "read": False,
                "tags": [],
            },
        },
        upsert=True,
    )
    return added
