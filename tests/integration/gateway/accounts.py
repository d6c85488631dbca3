"""What gateway integration tests share about accounts: the pepper and client factories."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

PEPPER = "integration-pepper"

# Makes a client with a new key of a new account owning the given stores; answers the
# client and the account id.
ClientFactory = Callable[..., Awaitable[tuple[httpx.AsyncClient, str]]]
