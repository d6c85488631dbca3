"""``parley connections …``: activate, inspect and steer marketplace connections.

Ingest owns the ``connections`` collection, so every write goes through ingest's own
repository (and activation through ingest's own code: the same credential rules,
Mirakl operator catalogue and email-relay addresses). Credentials are read from
environment variables named with ``--credential-env FIELD=VAR``, never from argv,
and never printed.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from parley_cli.output import Refused, as_json, table, when, without_query
from parley_connectors.registry import families
from parley_ingest import activation
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.config import IngestSettings
from parley_platform.crypto import CredentialCipher
from parley_platform.mongo import connect
from parley_platform.settings import load_settings
from parley_store import ConnectionDocument


@asynccontextmanager
async def repository(settings: IngestSettings) -> AsyncIterator[MongoConnectionRepository]:
    try:
        cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    except ValueError as exc:  # no key, or not a Fernet key
        raise Refused(str(exc)) from None
    client, db = connect(settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "cli")
    try:
        repo = MongoConnectionRepository(db, cipher)
        await repo.ensure_indexes()
        yield repo
    finally:
        await client.close()


def last_error(doc: ConnectionDocument) -> str:
    error = doc.last_error
    return f"{error.kind.value}: {error.message}" if error is not None else "-"


def describe(doc: ConnectionDocument) -> dict[str, Any]:
    """Everything an operator needs to see of a connection, never its credentials."""
    return {
        "id": doc.id,
        "store_id": doc.store_id,
        "family": doc.family,
        "marketplace": doc.marketplace,
        "base_url": without_query(doc.base_url),
        "messaging_enabled": doc.messaging_enabled,
        "health": doc.health,
        "health_reason": doc.health_reason,
        "activated_at": doc.activated_at,
        "cursor": doc.cursor,
        "interval_seconds": doc.interval_seconds,
        "next_sync_at": doc.next_sync_at,
        "last_sync_at": doc.last_sync_at,
        "last_error": doc.last_error.model_dump(mode="json") if doc.last_error else None,
        "consecutive_failures": doc.consecutive_failures,
        "options": doc.options,
    }


async def add(args: argparse.Namespace, settings: IngestSettings) -> None:
    await activation.add_connection(args, settings)


async def list_(args: argparse.Namespace, settings: IngestSettings) -> None:
    async with repository(settings) as repo:
        docs = await repo.list_documents(args.store)
    headers = (
        "ID",
        "STORE",
        "FAMILY",
        "MARKETPLACE",
        "ENABLED",
        "HEALTH",
        "LAST SYNC",
        "FAILURES",
        "LAST ERROR",
    )
    rows = [
        (
            d.id,
            d.store_id,
            d.family,
            d.marketplace,
            "yes" if d.messaging_enabled else "no",
            d.health,
            when(d.last_sync_at),
            str(d.consecutive_failures),
            last_error(d),
        )
        for d in docs
    ]
    print(table(headers, rows))


async def show(args: argparse.Namespace, settings: IngestSettings) -> None:
    async with repository(settings) as repo:
        doc = await repo.describe(args.id)
    if doc is None:
        raise Refused(f"no connection {args.id}")
    print(as_json(describe(doc)))


async def disable(args: argparse.Namespace, settings: IngestSettings) -> None:
    async with repository(settings) as repo:
        if not await repo.set_enabled(args.id, False):
            raise Refused(f"no connection {args.id}")
    print(f"connection {args.id}: messaging disabled, no more syncs")


async def enable(args: argparse.Namespace, settings: IngestSettings) -> None:
    async with repository(settings) as repo:
        if not await repo.set_enabled(args.id, True):
            raise Refused(f"no connection {args.id}")
    print(f"connection {args.id}: messaging enabled, syncing now")


async def remove(args: argparse.Namespace, settings: IngestSettings) -> None:
    async with repository(settings) as repo:
        if not await repo.remove(args.id):
            raise Refused(f"no connection {args.id}")
    print(f"connection {args.id} removed (its discussions stay)")


async def resync(args: argparse.Namespace, settings: IngestSettings) -> None:
    async with repository(settings) as repo:
        if not await repo.request_resync(args.id, retry_attention=True):
            raise Refused(f"no connection {args.id}")
        doc = await repo.describe(args.id)
    if doc is not None and not doc.messaging_enabled:
        print(f"connection {args.id}: resync requested, but messaging is disabled (enable it)")
        return
    print(f"connection {args.id}: resync requested, syncing from its cursor now")


Command = Callable[[argparse.Namespace, IngestSettings], Awaitable[None]]
COMMANDS: dict[str, Command] = {
    "add": add,
    "list": list_,
    "show": show,
    "disable": disable,
    "enable": enable,
    "remove": remove,
    "resync": resync,
}


def add_parsers(sub: Any) -> None:
    """``connections`` and its sub-commands, on the root parser's sub-parsers."""
    group = sub.add_parser("connections", help="marketplace connections of stores")
    commands = group.add_subparsers(dest="action", required=True)

    add = commands.add_parser(
        "add",
        help="activate messaging for a store on a marketplace (the same id again replaces it,"
        " e.g. with new credentials)",
    )
    add.add_argument("--id", required=True)
    add.add_argument("--store", required=True)
    add.add_argument("--family", required=True, choices=sorted(families()))
    add.add_argument("--marketplace", required=True)
    add.add_argument(
        "--base-url",
        help="the marketplace API root (not for email_relay; mirakl: default from the"
        " operator catalogue)",
    )
    add.add_argument("--api-key-env", help="name of the env var holding the API key (mirakl)")
    add.add_argument(
        "--credential-env",
        action="append",
        default=[],
        metavar="FIELD=ENV_VAR",
        help="a credential field and the env var holding it (mirakl: api_key; fnac:"
        " partner_id, shop_id, key; rakuten: login, token; allegro: client_id,"
        " client_secret, refresh_token)",
    )
    add.add_argument("--shop-id")
    add.add_argument("--inbound-address", help="email_relay: keep this address, not a new one")
    add.add_argument("--from-address", help="email_relay: sender of replies if not the inbound")
    add.add_argument("--interval", type=int, help="seconds between syncs")
    add.add_argument("--activated-at", help="ISO time; default now")

    listing = commands.add_parser("list", help="connections and their sync health")
    listing.add_argument("--store", help="only this store's")
    for name, text in (
        ("show", "one connection's details (never its credentials)"),
        ("disable", "turn messaging off: no more syncs"),
        ("enable", "turn messaging on (also retries one that needs attention)"),
        ("remove", "delete the connection (its discussions stay)"),
        ("resync", "sync now (also retries one whose credentials were refused)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("id", help="the connection id")


async def run(args: argparse.Namespace) -> None:
    await COMMANDS[args.action](args, load_settings(IngestSettings, "parley"))
