"""MongoDB adapter of :class:`~parley_gateway.ports.AccountRepository`.

``accounts``: ``{_id, name, store_ids, created_at}``. ``api_keys``: ``{_id: key id,
account_id, digest, digest_scheme, name, created_at, revoked_at}`` — the digest of
the key, never the key. Both are keyed by their ids, so authentication is two
``_id`` lookups.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parley_gateway.domain import Account, StoredKey
from parley_gateway.domain.access import DIGEST_SCHEME
from parley_gateway.ports import AccountExists, KeyIdTaken
from parley_store import ACCOUNTS, API_KEYS


class MongoAccountRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._accounts = db[ACCOUNTS]
        self._keys = db[API_KEYS]

    async def add_account(self, account: Account) -> None:
        try:
            await self._accounts.insert_one(
                {
                    "_id": account.id,
                    "name": account.name,
                    "store_ids": sorted(account.store_ids),
                    "created_at": account.created_at,
                }
            )
        except DuplicateKeyError as exc:
            raise AccountExists(account.id) from exc

    async def get_account(self, account_id: str) -> Account | None:
        doc = await self._accounts.find_one({"_id": account_id})
        return _account(doc) if doc is not None else None

    async def list_accounts(self) -> list[Account]:
        return [_account(doc) async for doc in self._accounts.find({}).sort("_id", 1)]

    async def list_keys(self, account_id: str) -> list[StoredKey]:
        cursor = self._keys.find({"account_id": account_id}).sort([("created_at", 1), ("_id", 1)])
        return [_key(doc) async for doc in cursor if doc.get("digest_scheme") == DIGEST_SCHEME]

    async def add_key(self, key: StoredKey) -> None:
        try:
            await self._keys.insert_one(
                {
                    "_id": key.key_id,
                    "account_id": key.account_id,
                    "digest": key.digest,
                    "digest_scheme": DIGEST_SCHEME,
                    "name": key.name,
                    "created_at": key.created_at,
                    "revoked_at": key.revoked_at,
                }
            )
        except DuplicateKeyError as exc:
            raise KeyIdTaken(key.key_id) from exc

    async def get_key(self, key_id: str) -> StoredKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        if doc is None or doc.get("digest_scheme") != DIGEST_SCHEME:
            return None
        return _key(doc)

    async def revoke_key(self, key_id: str, revoked_at: datetime) -> bool:
        # The first revocation time stands: set it only where none is set yet.
        result = await self._keys.update_one(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": revoked_at}}
        )
        if result.matched_count:
            return True
        return await self._keys.find_one({"_id": key_id}, {"_id": 1}) is not None


def _account(doc: dict[str, Any]) -> Account:
    return Account(
        id=doc["_id"],
        name=doc["name"],
        store_ids=frozenset(doc["store_ids"]),
        created_at=doc["created_at"],
    )


def _key(doc: dict[str, Any]) -> StoredKey:
    return StoredKey(
        key_id=doc["_id"],
        account_id=doc["account_id"],
        digest=doc["digest"],
        created_at=doc["created_at"],
        name=doc.get("name"),
        revoked_at=doc.get("revoked_at"),
    )
