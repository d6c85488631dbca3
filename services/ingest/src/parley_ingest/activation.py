"""Activating a connection (F2): the rules ``parley connections add`` applies.

Ingest owns the ``connections`` collection, so activation lives here and the operator
CLI (``parley``, cli/) calls it. Secrets are read from an environment variable named
on the command line, never from argv itself, so they do not end up in shell history
or process listings.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from parley_connectors.email_relay import new_inbound_address, normalize_address
from parley_connectors.family import NoDefaultBaseUrl
from parley_connectors.registry import UnknownFamily, family
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.config import IngestSettings
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_platform.mongo import connect
from parley_schemas import utcnow


def read_credentials(args: argparse.Namespace) -> dict[str, str]:
    """``--credential-env FIELD=ENV_VAR`` (and ``--api-key-env``) resolved from the env."""
    sources: dict[str, str] = {}
    for item in args.credential_env:
        field, sep, variable = item.partition("=")
        if not sep or not field or not variable:
            raise SystemExit(f"--credential-env takes FIELD=ENV_VAR, got {item!r}")
        sources[field] = variable
    if args.api_key_env:
        sources.setdefault("api_key", args.api_key_env)
    # The fields the family declares it needs (Family.credential_fields), each read from
    # an environment variable.
    try:
        required = family(args.family).credential_fields
    except UnknownFamily as exc:
        raise SystemExit(str(exc)) from None
    credentials: dict[str, str] = {}
    for field in dict.fromkeys([*required, *sources]):
        variable = sources.get(field)
        if variable is None:
            raise SystemExit(f"the {args.family} family needs --credential-env {field}=ENV_VAR")
        value = os.environ.get(variable, "")
        if not value:
            raise SystemExit(f"environment variable {variable} is empty")
        credentials[field] = value
    return credentials


def email_relay_options(args: argparse.Namespace, settings: IngestSettings) -> dict[str, str]:
    """The store's inbound address (new unless ``--inbound-address`` keeps one) and the
    optional sender address of replies (default: the inbound address)."""
    address = normalize_address(args.inbound_address or "") or new_inbound_address(
        args.store, args.marketplace, settings.ingest_inbound_domain
    )
    options = {"inbound_address": address}
    if args.from_address:
        options["from_address"] = normalize_address(args.from_address)
    return options


def base_url_for(family_name: str, marketplace: str, base_url: str | None) -> str:
    """An explicit ``--base-url`` wins (sandbox instances, operators not catalogued);
    otherwise the family names the instance's API root (Mirakl: its catalogue)."""
    if base_url:
        return base_url
    lookup = family(family_name).base_url
    if lookup is None:
        raise SystemExit(f"the {family_name} family needs --base-url")
    try:
        found = lookup(marketplace)
    except NoDefaultBaseUrl as exc:
        raise SystemExit(str(exc)) from None
    if found.note:
        print(found.note, file=sys.stderr)
    return found.url


async def add_connection(args: argparse.Namespace, settings: IngestSettings) -> None:
    credentials = read_credentials(args)
    options = {"shop_id": args.shop_id} if args.shop_id else {}
    if args.family == "email_relay":
        options |= email_relay_options(args, settings)
        args.base_url = args.base_url or f"mailto:{options['inbound_address']}"
    args.base_url = base_url_for(args.family, args.marketplace, args.base_url)
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
                credentials=credentials,
                activated_at=activated,
                cursor=activated,
                interval_seconds=args.interval or settings.ingest_default_interval_seconds,
                options=options,
            )
        )
        print(f"connection {args.id} active since {activated.isoformat()}", file=sys.stderr)
        if args.family == "email_relay":
            print(
                "set this address as the store's messaging address in the marketplace back"
                " office (Amazon: notification address and an approved sender under"
                " Messaging permissions):",
                file=sys.stderr,
            )
            print(options["inbound_address"])
    finally:
        await client.close()
