"""Accounts and their API keys (F15): who a caller is and which stores they may see.

An account owns a set of store ids; each API key belongs to one account. A key looks
like ``prl_<key id>_<secret>``: the key id is a short, non-secret handle to find the
stored key (and to name it when revoking), the secret is 256 random bits.

Only a digest of the whole key is stored: HMAC-SHA256 keyed with a server-side
pepper (``API_KEY_PEPPER``), so a copy of the database alone does not even allow
checking guesses. A slow password hash is not needed: the secret is random, not
chosen by a person, so it cannot be guessed from a dictionary. Digests are compared
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from parley_schemas.keys import is_valid_segment

from .scope import Scope

KEY_PREFIX = "prl"
DIGEST_SCHEME = "hmac-sha256"
_KEY_ID_BYTES = 6  # 12 hex characters: unique enough to look up, never a secret
_SECRET_BYTES = 32
_KEY = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{{2 * _KEY_ID_BYTES}}})_([A-Za-z0-9_-]{{32,128}})$")
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class InvalidAccount(ValueError):
    """An account definition that breaks a rule (id or store ids)."""


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    store_ids: frozenset[str]
    created_at: datetime

    def __post_init__(self) -> None:
        if not _ACCOUNT_ID.match(self.id):
            raise InvalidAccount(f"account id {self.id!r}: letters, digits, '_', '.', '-'")
        if not self.name.strip():
            raise InvalidAccount("an account needs a name")
        if not self.store_ids:
            raise InvalidAccount("an account owns at least one store")
        for store_id in sorted(self.store_ids):
            if not is_valid_segment(store_id):
                raise InvalidAccount(f"store id {store_id!r} is not a valid store id")

    @property
    def scope(self) -> Scope:
        return Scope.of(self.store_ids)


@dataclass(frozen=True)
class StoredKey:
    """What is kept of an API key: never the key itself."""

    key_id: str
    account_id: str
    digest: str
    created_at: datetime
    name: str | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``secret`` is shown once to whoever created it, then forgotten."""

    secret: str
    stored: StoredKey


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the account behind the key, and the key used."""

    account_id: str
    key_id: str
    scope: Scope


def new_account_id() -> str:
    return f"acc_{secrets.token_hex(8)}"


def issue_key(
    account_id: str, pepper: bytes, created_at: datetime, name: str | None = None
) -> IssuedKey:
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    stored = StoredKey(
        key_id=key_id,
        account_id=account_id,
        digest=key_digest(secret, pepper),
        created_at=created_at,
        name=name,
    )
    return IssuedKey(secret, stored)


def key_id_of(presented: str) -> str | None:
    """The key id of something shaped like one of our keys; None for anything else."""
    match = _KEY.match(presented)
    return match.group(1) if match else None


def key_digest(presented: str, pepper: bytes) -> str:
    return hmac.new(pepper, presented.encode(), hashlib.sha256).hexdigest()


def digests_match(presented_digest: str, stored_digest: str) -> bool:
    """Constant time: how much of a digest matched never shows in the response time."""
    return hmac.compare_digest(presented_digest.encode(), stored_digest.encode())
