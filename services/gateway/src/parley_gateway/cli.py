"""``python -m parley_gateway.cli``: operator commands for accounts and API keys (F15).

    create-account --name "Shop" --store s1 --store s2 [--id ID]   prints the account id
    create-key --account ID [--name LABEL]                         prints the key, once
    revoke-key --key-id KEY_ID                                     (a whole key works too)

The key is printed on stdout and nowhere else: only its digest is stored, so it cannot
be shown again; a lost key is revoked and replaced. Run with the gateway's environment
(MONGODB_URI, MONGODB_DATABASE and the same API_KEY_PEPPER), or the keys will not
match. Exit status 1 means the command was refused (the reason is on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from parley_gateway.accounts import AccessService, UnknownAccount
from parley_gateway.adapters.mongo_accounts import MongoAccountRepository
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import InvalidAccount
from parley_gateway.domain.access import key_id_of
from parley_gateway.ports import AccountExists
from parley_platform.logging import configure_logging
from parley_platform.mongo import connect
from parley_platform.settings import load_settings
from parley_store import ensure_indexes


class Refused(Exception):
    """The command cannot be carried out; the message says why."""


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


async def revoke_key(access: AccessService, args: argparse.Namespace) -> None:
    # A whole key is accepted too, but only its public id is used.
    key_id = key_id_of(args.key_id) or args.key_id
    if not await access.revoke_key(key_id):
        raise Refused(f"no key {key_id}")
    print(f"key {key_id} revoked", file=sys.stderr)


Command = Callable[[AccessService, argparse.Namespace], Awaitable[None]]
COMMANDS: dict[str, Command] = {
    "create-account": create_account,
    "create-key": create_key,
    "revoke-key": revoke_key,
}


async def run(args: argparse.Namespace, settings: GatewaySettings) -> None:
    client, db = connect(settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "cli")
    try:
        await ensure_indexes(db)
        access = AccessService(MongoAccountRepository(db), settings.pepper())
        await COMMANDS[args.command](access, args)
    finally:
        await client.close()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="parley_gateway.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = root.add_subparsers(dest="command", required=True)
    account = sub.add_parser("create-account", help="an account owning some stores")
    account.add_argument("--name", required=True)
    account.add_argument(
        "--store", action="append", required=True, help="a store id it owns (repeatable)"
    )
    account.add_argument(
        "--id",
        dest="account_id",
        help="choose the id (default: a new one); the same id, name and stores again is a"
        " no-op, so provisioning can be re-run",
    )
    key = sub.add_parser("create-key", help="a new API key for an account (printed once)")
    key.add_argument("--account", required=True)
    key.add_argument("--name", help="a label to tell keys apart (e.g. the integration)")
    revoke = sub.add_parser("revoke-key", help="refuse a key from now on")
    revoke.add_argument("--key-id", required=True, help="the id after prl_ (or the whole key)")
    return root


def main() -> None:
    args = parser().parse_args()
    settings = load_settings(GatewaySettings, "parley_gateway.cli")
    # JSON logs on stderr, so stdout carries only what the command prints for scripts.
    configure_logging("gateway-cli", settings.log_level)
    try:
        asyncio.run(run(args, settings))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
