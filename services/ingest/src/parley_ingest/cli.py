"""``python -m parley_ingest.cli``: operator commands (activate a connection, make a key).

Secrets are read from an environment variable named on the command line, never from
argv itself, so they do not end up in shell history or process listings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime

from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.config import IngestSettings
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_platform.mongo import connect
from parley_schemas import utcnow


async def add_connection(args: argparse.Namespace, settings: IngestSettings) -> None:
    secret = os.environ.get(args.api_key_env, "")
    if not secret:
        raise SystemExit(f"environment variable {args.api_key_env} is empty")
    client, db = connect(settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "cli")
    try:
        repo = MongoConnectionRepository(
            db, CredentialCipher(settings.credentials_key.get_secret_value())
        )
        await repo.ensure_indexes()
        activated = datetime.fromisoformat(args.activated_at) if args.activated_at else utcnow()
        await repo.add(
            Connection(
                id=args.id,
                store_id=args.store,
                family=args.family,
                marketplace=args.marketplace,
                base_url=args.base_url,
                credentials={"api_key": secret},
                activated_at=activated,
                cursor=activated,
                interval_seconds=args.interval or settings.ingest_default_interval_seconds,
                options={"shop_id": args.shop_id} if args.shop_id else {},
            )
        )
        print(f"connection {args.id} active since {activated.isoformat()}", file=sys.stderr)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="parley_ingest.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-connection", help="activate messaging for a store on a marketplace")
    add.add_argument("--id", required=True)
    add.add_argument("--store", required=True)
    add.add_argument("--family", required=True, choices=["mirakl"])
    add.add_argument("--marketplace", required=True)
    add.add_argument("--base-url", required=True)
    add.add_argument("--api-key-env", required=True, help="name of the env var holding the key")
    add.add_argument("--shop-id")
    add.add_argument("--interval", type=int, help="seconds between syncs")
    add.add_argument("--activated-at", help="ISO time; default now")
    sub.add_parser("generate-key", help="print a new credentials encryption key")
    args = parser.parse_args()
    if args.command == "generate-key":
        print(CredentialCipher.generate_key())
        return
    asyncio.run(add_connection(args, IngestSettings()))


if __name__ == "__main__":
    main()
