"""``parley``: the operator CLI.

    parley connections add|list|show|disable|enable|remove|resync
    parley accounts create|list
    parley keys create|list|revoke

Run with the services' environment (MONGODB_URI, MONGODB_DATABASE, CREDENTIALS_KEY
for connections, API_KEY_PEPPER for keys); ``make cli ARGS="…"`` sets it for the
local stack. What scripts need goes to stdout; messages go to stderr. Exit status 1
means the command was refused, with a one-line reason on stderr (``refused: …``);
2, a bad or missing setting (one line per variable) or bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from parley_cli import accounts, connections
from parley_cli.output import Refused
from parley_platform.crypto import CredentialCipher
from parley_platform.logging import configure_logging


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="parley", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = root.add_subparsers(dest="group", required=True)
    connections.add_parsers(sub)
    accounts.add_parsers(sub)
    sub.add_parser("generate-key", help="print a new credentials encryption key")
    return root


async def run(args: argparse.Namespace) -> None:
    if args.group == "connections":
        await connections.run(args)
    else:
        await accounts.run(args)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.group == "generate-key":
        print(CredentialCipher.generate_key())
        return
    # JSON logs on stderr, so stdout carries only what the command prints for scripts.
    configure_logging("parley-cli", "WARNING")
    try:
        asyncio.run(run(args))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except SystemExit as exc:
        # The reused activation code refuses with SystemExit("why").
        if isinstance(exc.code, str):
            print(f"refused: {exc.code}", file=sys.stderr)
            raise SystemExit(1) from None
        raise


if __name__ == "__main__":
    main()
