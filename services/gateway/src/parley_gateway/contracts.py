"""The gateway's API contracts, as committed files: ``openapi.json`` (REST) and
``schema.graphql`` (GraphQL SDL).

``python -m parley_gateway.contracts services/gateway`` (run by ``make schemas``)
writes them from what the app actually serves, so clients can generate code and
review changes in diffs; a unit test fails when the committed files fall behind.
Building the app needs neither MongoDB nor Kafka (they connect in the lifespan).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_gateway.graphql import schema

OPENAPI_FILE = "openapi.json"
GRAPHQL_FILE = "schema.graphql"


def render() -> dict[str, str]:
    """File name → content, exactly as written (stable order, trailing newline)."""
    openapi = create_app(GatewaySettings()).openapi()
    return {
        OPENAPI_FILE: json.dumps(openapi, indent=2, ensure_ascii=False) + "\n",
        GRAPHQL_FILE: schema.as_str() + "\n",
    }


def write(directory: Path) -> list[Path]:
    written = []
    for name, content in render().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m parley_gateway.contracts <directory>", file=sys.stderr)
        return 2
    for path in write(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
