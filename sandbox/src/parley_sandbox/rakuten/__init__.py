"""Rakuten France's sales web services in the sandbox: XML actions, control API, seed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from parley_sandbox.rakuten import control, routes
from parley_sandbox.rakuten.seed import seed_demo
from parley_sandbox.rakuten.store import RakutenSandbox


def mount(app: FastAPI, *, seed: bool, now: Callable[[], datetime] | None = None) -> None:
    """Adds the Rakuten family (state, API routes, control routes) to the sandbox app."""
    app.state.rakuten = RakutenSandbox(seed=seed, now=now, seeder=seed_demo)
    app.include_router(routes.router)
    app.include_router(control.router)


__all__ = ["RakutenSandbox", "mount"]
