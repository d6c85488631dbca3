"""Accounts and API keys on in-memory fakes: issuing, hashing, authenticating, revoking."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from unit.gateway.fakes import PEPPER, InMemoryAccounts

from parley_gateway.accounts import AccessService, NotAuthenticated, UnknownAccount
from parley_gateway.domain import InvalidAccount, Scope
from parley_gateway.domain.access import (
    digests_match,
    issue_key,
    key_digest,
    key_id_of,
)
from parley_gateway.ports import AccountExists

NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def make_access(repo: InMemoryAccounts | None = None, pepper: bytes = PEPPER) -> AccessService:
    return AccessService(repo or InMemoryAccounts(), pepper, clock=lambda: NOW)


def test_a_key_names_its_id_and_carries_256_random_bits() -> None:
    first = issue_key("acc", PEPPER, NOW)
    second = issue_key("acc", PEPPER, NOW)
    assert first.secret != second.secret
    prefix, key_id, secret = first.secret.split("_", 2)
    assert prefix == "prl" and key_id == first.stored.key_id and len(key_id) == 12
    assert len(secret) >= 43  # token_urlsafe(32)
    assert key_id_of(first.secret) == key_id


def test_only_a_peppered_digest_is_kept() -> None:
    issued = issue_key("acc", PEPPER, NOW)
    stored = issued.stored
    assert issued.secret not in repr(stored)
    expected = hmac.new(PEPPER, issued.secret.encode(), hashlib.sha256).hexdigest()
    assert stored.digest == expected
    assert stored.digest != hashlib.sha256(issued.secret.encode()).hexdigest()
    assert key_digest(issued.secret, b"another pepper") != stored.digest
    assert digests_match(key_digest(issued.secret, PEPPER), stored.digest)
    assert not digests_match(key_digest(issued.secret + "x", PEPPER), stored.digest)


@pytest.mark.parametrize(
    "presented",
    ["", "prl_", "prl_zzzzzzzzzzzz_" + "a" * 43, "Bearer x", "prl_0123456789ab_short", "x" * 500],
)
def test_anything_not_shaped_like_a_key_has_no_key_id(presented: str) -> None:
    assert key_id_of(presented) is None


async def test_a_key_authenticates_as_its_account_with_its_stores() -> None:
    access = make_access()
    account, created = await access.create_account("Shop", ["s1", "s2"])
    assert created and account.id.startswith("acc_")
    issued = await access.issue_key(account.id, name="erp")

    caller = await access.authenticate(issued.secret)

    assert caller.account_id == account.id
    assert caller.key_id == issued.stored.key_id
    assert caller.scope == Scope.of(["s1", "s2"])


async def test_missing_malformed_wrong_and_revoked_keys_are_refused() -> None:
    repo = InMemoryAccounts()
    access = make_access(repo)
    account, _ = await access.create_account("Shop", ["s1"])
    issued = await access.issue_key(account.id)

    with pytest.raises(NotAuthenticated) as missing:
        await access.authenticate(None)
    assert missing.value.presented is False
    wrong_secret = issued.secret[:-4] + ("AAAA" if not issued.secret.endswith("AAAA") else "BBBB")
    unknown_id = "prl_000000000000_" + issued.secret.split("_", 2)[2]
    for presented in ("nonsense", wrong_secret, unknown_id):
        with pytest.raises(NotAuthenticated) as refused:
            await access.authenticate(presented)
        assert refused.value.presented is True

    assert await access.revoke_key(issued.stored.key_id) is True
    assert repo.keys[issued.stored.key_id].revoked_at == NOW
    with pytest.raises(NotAuthenticated):
        await access.authenticate(issued.secret)
    assert await access.revoke_key(issued.stored.key_id) is True  # idempotent
    assert await access.revoke_key("000000000000") is False


async def test_a_key_checked_with_another_pepper_is_refused() -> None:
    repo = InMemoryAccounts()
    account, _ = await make_access(repo).create_account("Shop", ["s1"])
    issued = await make_access(repo).issue_key(account.id)
    with pytest.raises(NotAuthenticated):
        await make_access(repo, pepper=b"rotated").authenticate(issued.secret)


async def test_a_key_of_a_deleted_account_is_refused() -> None:
    repo = InMemoryAccounts()
    access = make_access(repo)
    account, _ = await access.create_account("Shop", ["s1"])
    issued = await access.issue_key(account.id)
    del repo.accounts[account.id]
    with pytest.raises(NotAuthenticated):
        await access.authenticate(issued.secret)


async def test_keys_only_for_existing_accounts() -> None:
    with pytest.raises(UnknownAccount):
        await make_access().issue_key("acc_nope")


async def test_an_explicit_account_id_can_be_provisioned_twice_but_not_changed() -> None:
    access = make_access()
    first, created = await access.create_account("Demo", ["demo-store"], account_id="demo")
    again, created_again = await access.create_account("Demo", ["demo-store"], account_id="demo")
    assert created and not created_again and again == first
    with pytest.raises(AccountExists):
        await access.create_account("Demo", ["other-store"], account_id="demo")


@pytest.mark.parametrize(
    ("name", "stores", "account_id"),
    [
        ("Shop", [], None),
        ("  ", ["s1"], None),
        ("Shop", ["bad store"], None),
        ("Shop", ["s1:x"], None),
        ("Shop", ["s1"], "bad id"),
    ],
)
async def test_invalid_accounts_are_refused(
    name: str, stores: list[str], account_id: str | None
) -> None:
    with pytest.raises(InvalidAccount):
        await make_access().create_account(name, stores, account_id=account_id)
