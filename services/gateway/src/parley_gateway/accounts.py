"""Use cases of accounts and API keys (F15): create, issue, revoke, authenticate.

Used by the HTTP layer (authenticate every request) and by the operator CLI (the rest).
Every way a key can fail (unknown, malformed, wrong secret, revoked, account gone)
ends in the same :class:`NotAuthenticated`, so a caller learns nothing from the error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from parley_gateway.domain import Account, Caller, IssuedKey, StoredKey
from parley_gateway.domain.access import (
    digests_match,
    issue_key,
    key_digest,
    key_id_of,
    new_account_id,
)
from parley_gateway.ports import AccountExists, AccountRepository, KeyIdTaken
from parley_platform.logging import get_logger
from parley_schemas import utcnow

log = get_logger(__name__)

# Compared against when the key id is unknown, so that case costs the same work.
_NO_DIGEST = "0" * 64
_ISSUE_ATTEMPTS = 3


class NotAuthenticated(PermissionError):
    """No key, or not a valid one. ``presented`` tells a missing key from a bad one."""

    def __init__(self, *, presented: bool) -> None:
        super().__init__("invalid API key" if presented else "no API key")
        self.presented = presented


class UnknownAccount(LookupError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"no account {account_id}")
        self.account_id = account_id


class AccessService:
    def __init__(
        self,
        accounts: AccountRepository,
        pepper: bytes,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._accounts = accounts
        self._pepper = pepper
        self._clock = clock

    async def create_account(
        self, name: str, store_ids: Iterable[str], *, account_id: str | None = None
    ) -> tuple[Account, bool]:
        """The account, and whether it was created now.

        With an explicit id, asking again for the same name and stores answers the
        existing account, so provisioning scripts can run twice; anything else under
        a taken id raises AccountExists.
        """
        account = Account(
            id=account_id or new_account_id(),
            name=name.strip(),
            store_ids=frozenset(store_ids),
            created_at=self._clock(),
        )
        try:
            await self._accounts.add_account(account)
        except AccountExists:
            existing = await self._accounts.get_account(account.id)
            if (
                account_id is None
                or existing is None
                or (existing.name, existing.store_ids) != (account.name, account.store_ids)
            ):
                raise
            return existing, False
        log.info("account created", account_id=account.id, stores=sorted(account.store_ids))
        return account, True

    async def issue_key(self, account_id: str, *, name: str | None = None) -> IssuedKey:
        """A new key for the account; its secret exists only in the returned value."""
        if await self._accounts.get_account(account_id) is None:
            raise UnknownAccount(account_id)
        for attempt in range(_ISSUE_ATTEMPTS):
            issued = issue_key(account_id, self._pepper, self._clock(), name)
            try:
                await self._accounts.add_key(issued.stored)
            except KeyIdTaken:
                if attempt == _ISSUE_ATTEMPTS - 1:
                    raise
                continue
            log.info("api key issued", account_id=account_id, key_id=issued.stored.key_id)
            return issued
        raise AssertionError("unreachable")  # pragma: no cover

    async def list_accounts(self) -> list[Account]:
        return await self._accounts.list_accounts()

    async def list_keys(self, account_id: str) -> list[StoredKey]:
        """The account's keys (ids, names, dates: never a secret); UnknownAccount else."""
        if await self._accounts.get_account(account_id) is None:
            raise UnknownAccount(account_id)
        return await self._accounts.list_keys(account_id)

    async def revoke_key(self, key_id: str) -> bool:
        """Refused from the next request on; False when there is no such key."""
        revoked = await self._accounts.revoke_key(key_id, self._clock())
        if revoked:
            log.info("api key revoked", key_id=key_id)
        return revoked

    async def authenticate(self, presented: str | None) -> Caller:
        """The caller behind a presented key, with the scope of its account's stores."""
        if not presented:
            raise NotAuthenticated(presented=False)
        digest = key_digest(presented, self._pepper)
        key_id = key_id_of(presented)
        stored = await self._accounts.get_key(key_id) if key_id is not None else None
        matches = digests_match(digest, stored.digest if stored else _NO_DIGEST)
        if stored is None or not matches or stored.revoked:
            raise NotAuthenticated(presented=True)
        account = await self._accounts.get_account(stored.account_id)
        if account is None:
            raise NotAuthenticated(presented=True)
        return Caller(account_id=account.id, key_id=stored.key_id, scope=account.scope)
