"""The sandbox application: marketplace APIs as documented, plus a control API.

One process plays several marketplaces and several operator instances of each
family (``/mirakl/carrefour``, ``/mirakl/empik`` …), so a whole local stack, the
end-to-end tests and a demo need a single sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from parley_sandbox import allegro as allegro_family
from parley_sandbox import control, smtp_sink
from parley_sandbox import fnac as fnac_family
from parley_sandbox import rakuten as rakuten_family
from parley_sandbox.mirakl import routes as mirakl_routes
from parley_sandbox.mirakl.store import Clock, MiraklSandbox, SandboxError
from parley_sandbox.seed import seed_demo


def create_app(seed: bool = True, *, now: Callable[[], datetime] | None = None) -> FastAPI:
    """A fresh sandbox with in-memory state; ``seed`` adds the demo threads.

    ``now`` replaces the wall clock (tests that need fixed times).
    """
    app = FastAPI(
        title="Parley marketplace sandbox",
        description="Marketplace APIs as their public documentation describes them, "
        "for tests and demos. Not a marketplace.",
    )
    app.state.mirakl = MiraklSandbox(seed=seed, clock=Clock(now), seeder=seed_demo)

    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        return mirakl_routes.error_response(exc)

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        sandbox: MiraklSandbox = request.app.state.mirakl
        return {"status": "ok", "mirakl_instances": sorted(sandbox.instances)}

    app.include_router(mirakl_routes.router)
    app.include_router(control.router)
    smtp_sink.mount(app)
    fnac_family.mount(app, seed=seed, now=now)
    rakuten_family.mount(app, seed=seed, now=now)
    allegro_family.mount(app, seed=seed, now=now)
    return app
