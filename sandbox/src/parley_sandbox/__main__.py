"""``python -m parley_sandbox``: serves the sandbox with uvicorn.

``SANDBOX_HOST`` (default 127.0.0.1) and ``SANDBOX_PORT`` (default 8900) say where;
``SANDBOX_SEED=0`` starts without the demo threads.
"""

from __future__ import annotations

import os

import uvicorn

from parley_sandbox.app import create_app


def main() -> None:
    host = os.environ.get("SANDBOX_HOST", "127.0.0.1")
    port = int(os.environ.get("SANDBOX_PORT", "8900"))
    seed = os.environ.get("SANDBOX_SEED", "1").lower() not in ("0", "false", "no")
    uvicorn.run(create_app(seed=seed), host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
