"""What every route needs: the service of the running app and the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import Scope
from parley_gateway.service import DiscussionService


def get_service(request: Request) -> DiscussionService:
    runtime: Runtime = request.app.state.runtime
    return runtime.service


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_scope() -> Scope:
    """Every store until accounts and API keys exist (F15): this is where the caller's
    key will be resolved to its account's stores."""
    return Scope.all_stores()


def get_requested_by() -> str:
    """Who asks for a command; an API key's account once keys exist."""
    return "api"


Service = Annotated[DiscussionService, Depends(get_service)]
Settings = Annotated[GatewaySettings, Depends(get_settings)]
CallerScope = Annotated[Scope, Depends(get_scope)]
RequestedBy = Annotated[str, Depends(get_requested_by)]
