"""The Fnac Marketplace API family in the sandbox: XML services, control API, demo seed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from parley_sandbox.fnac import control, routes
from parley_sandbox.fnac.seed import seed_demo
from parley_sandbox.fnac.store import FnacSandbox


def mount(app: FastAPI, *, seed: bool, now: Callable[[], datetime] | None = None) -> None:
    """Adds the Fnac family (state, API routes, control routes) to the sandbox app."""
    app.state.fnac = FnacSandbox(seed=seed, now=now, seeder=seed_demo)
    app.include_router(routes.router)
    app.include_router(control.router)


__all__ = ["FnacSandbox", "mount"]
