"""``parley accounts …`` and ``parley keys …``: API accounts and their keys (F15).

The same :class:`AccessService` as the gateway, so the same rules and messages. A
key's secret is printed once, on stdout, when it is created: only its digest is
stored. Run with the gateway's ``API_KEY_PEPPER``, or the keys will not match.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from parley_cli.output import Refused, table, when
from parley_gateway.accounts import AccessService, UnknownAccount
from parley_gateway.adapters.mongo_accounts import MongoAccountRepository
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import InvalidAccount
from parley_gateway.domain.access import key_id_of
from parley_gateway.ports import AccountExists
from parley_platform.mongo import connect
from parley_platform.settings import load_settings
from parley_store import ensure_indexes


async def create_account(access: AccessService, args: argparse.Namespace) -> None:
    try:
        account, created = await access.create_account(
            args.name, args.store, account_id=args.account_id
        )
    except InvalidAccount as exc:
        raise Refused(str(exc)) from exc
    except AccountExists as exc:
        raise Refused(f"account {exc} exists with another name or other stores") from exc
    stores = ", ".join(sorted(account.store_ids))
    print(f"account {account.id} {'created' if created else 'exists'}: {stores}", file=sys.stderr)
    print(account.id)


async def list_accounts(access: AccessService, args: argparse.Namespace) -> None:
    accounts = await access.list_accounts()
    rows = [(a.id, a.name, ",".join(sorted(a.store_ids)), when(a.created_at)) for a in accounts]
    print(table(("ID", "NAME", "STORES", "CREATED"), rows))


async def create_key(access: AccessService, args: argparse.Namespace) -> None:
    try:
        issued = await access.issue_key(args.account, name=args.name)
    except UnknownAccount as exc:
        raise Refused(str(exc)) from exc
    print(
        f"key {issued.stored.key_id} for account {args.account}: store it now, it is not"
        " shown again (send it as Authorization: Bearer <key>)",
        file=sys.stderr,
    )
    print(issued.secret)


async def list_keys(access: AccessService, args: argparse.Namespace) -> None:
    try:
        keys = await access.list_keys(args.account)
    except UnknownAccount as exc:
        raise Refused(str(exc)) from exc
    rows = [(k.key_id, k.name or "-", when(k.created_at), when(k.revoked_at)) for k in keys]
    print(table(("KEY ID", "NAME", "CREATED", "REVOKED"), rows))


async def revoke_key(access: AccessService, args: argparse.Namespace) -> None:
    # A whole key is accepted too, but only its public id is used.
    key_id = key_id_of(args.key_id) or args.key_id
    if not await access.revoke_key(key_id):
        raise Refused(f"no key {key_id}")
    print(f"key {key_id} revoked", file=sys.stderr)


Command = Callable[[AccessService, argparse.Namespace], Awaitable[None]]
COMMANDS: dict[tuple[str, str], Command] = {
    ("accounts", "create"): create_account,
    ("accounts", "list"): list_accounts,
    ("keys", "create"): create_key,
    ("keys", "list"): list_keys,
    ("keys", "revoke"): revoke_key,
}


def add_parsers(sub: Any) -> None:
    accounts = sub.add_parser("accounts", help="API accounts, each owning some stores")
    account_commands = accounts.add_subparsers(dest="action", required=True)
    create = account_commands.add_parser("create", help="an account owning some stores")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--store", action="append", required=True, help="a store id it owns (repeatable)"
    )
    create.add_argument(
        "--id",
        dest="account_id",
        help="choose the id (default: a new one); the same id, name and stores again is a"
        " no-op, so provisioning can be re-run",
    )
    account_commands.add_parser("list", help="every account and its stores")

    keys = sub.add_parser("keys", help="API keys of accounts")
    key_commands = keys.add_subparsers(dest="action", required=True)
    new = key_commands.add_parser("create", help="a new API key (its secret printed once)")
    new.add_argument("--account", required=True)
    new.add_argument("--name", help="a label to tell keys apart (e.g. the integration)")
    listing = key_commands.add_parser("list", help="an account's keys (never their secrets)")
    listing.add_argument("--account", required=True)
    revoke = key_commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id", help="the id after prl_ (or the whole key)")


async def run(args: argparse.Namespace) -> None:
    settings = load_settings(GatewaySettings, "parley")
    client, db = connect(settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "cli")
    try:
        await ensure_indexes(db)
        access = AccessService(MongoAccountRepository(db), settings.pepper())
        await COMMANDS[(args.group, args.action)](access, args)
    finally:
        await client.close()
