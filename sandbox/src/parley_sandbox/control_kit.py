"""What every family's control API (``/_sandbox/...``) is made of, written once.

Each family plays its own buyer and shows its own replies, but arming, listing and
clearing faults, resetting instances and receiving files as base64 work the same
everywhere: same JSON fields, same limits, same answers. A family passes in how to
find an instance and how it refuses a request (its own error answer: a Mirakl-style
JSON body, Allegro's ``errors`` list, or FastAPI's ``detail``), nothing else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from parley_sandbox.faults import Fault, FaultKind, FaultQueue, FaultTargets
from parley_sandbox.registry import InstanceRegistry

InstanceT = TypeVar("InstanceT")

# How a family refuses a request: its error, from an HTTP status and a message.
Refuse = Callable[[int, str], Exception]


# A setting a body may leave out (the current value stays), but not send empty.
Setting = Annotated[str | None, Field(min_length=1)]
# When a message the sandbox plays was written.
SentAt = Annotated[
    datetime | None,
    Field(description="Defaults to now; a past time helps incremental-sync tests"),
]


class Body(BaseModel):
    """A control API body: unknown fields are a mistake in a test, so they are refused."""

    model_config = ConfigDict(extra="forbid")


class AttachmentIn(Body):
    name: str = Field(min_length=1)
    content_base64: str
    content_type: str = "application/octet-stream"


class FaultIn(Body):
    kind: FaultKind
    count: int = Field(default=1, ge=1, le=1000, description="How many calls suffer it")
    operations: list[str] = Field(
        default_factory=list,
        description="The family's operation names; empty means every call",
    )
    retry_after: int = Field(default=30, ge=0, description="rate_limit: Retry-After seconds")
    status: int = Field(default=500, ge=500, le=599, description="server_error: the 5xx")
    delay_seconds: float = Field(default=2.0, ge=0, le=120, description="slow: the delay")

    def fault(self, targets: FaultTargets) -> Fault:
        return Fault(
            kind=self.kind,
            remaining=self.count,
            operations=frozenset(self.operations),
            retry_after=self.retry_after,
            status=self.status,
            delay_seconds=self.delay_seconds,
            documents=targets.documents,
        )


class ResetIn(Body):
    instance: str | None = None
    seed: bool = True


def decode_attachment(item: AttachmentIn, refuse: Refuse) -> tuple[str, str, bytes]:
    """``(name, content type, bytes)`` of an attachment sent as base64."""
    try:
        content = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise refuse(400, f"attachment {item.name!r}: content_base64 is not base64") from exc
    return (item.name, item.content_type, content)


def instance_or_404(
    registry: InstanceRegistry[InstanceT], name: str, refusal: type[Exception]
) -> InstanceT:
    """The named instance; a name the family refuses is a plain 404 (``detail``)."""
    try:
        return registry.instance(name)
    except refusal as exc:
        raise HTTPException(404, str(exc)) from exc


def add_fault_routes(
    router: APIRouter,
    path: str,
    *,
    queue_of: Callable[[Request, str], FaultQueue],
    targets: FaultTargets,
    refuse: Refuse,
) -> None:
    """``POST`` (arm), ``GET`` (list) and ``DELETE`` (clear) faults at ``path``.

    ``path`` holds an ``{instance}`` parameter; ``queue_of`` finds that instance's
    faults (refusing an unknown instance the family's way).
    """

    @router.post(path, status_code=201)
    async def arm_fault(request: Request, instance: str, body: FaultIn) -> dict[str, Any]:
        unknown = set(body.operations) - targets.operations
        if unknown:
            wanted = sorted(targets.operations)
            raise refuse(400, f"unknown operations {sorted(unknown)}; use {wanted}")
        faults = queue_of(request, instance)
        faults.arm(body.fault(targets))
        return {"faults": faults.pending()}

    @router.get(path)
    async def list_faults(request: Request, instance: str) -> dict[str, Any]:
        return {"faults": queue_of(request, instance).pending()}

    @router.delete(path)
    async def clear_faults(request: Request, instance: str) -> dict[str, Any]:
        queue_of(request, instance).clear()
        return {"faults": []}


class Registry(Protocol[InstanceT]):
    """A family's instances, as the reset route needs them."""

    @property
    def instances(self) -> dict[str, InstanceT]: ...

    def reset(self, *, seed: bool, name: str | None = None) -> None: ...


def add_registry_routes(
    router: APIRouter,
    *,
    list_path: str,
    reset_path: str,
    registry_of: Callable[[Request], Registry[InstanceT]],
    instance_of: Callable[[Request, str], object],
    describe: Callable[[InstanceT], dict[str, Any]],
) -> None:
    """``GET list_path`` lists the instances; ``POST reset_path`` resets one or all.

    A reset forgets state and faults and, with ``seed``, puts the demo data back;
    ``instance_of`` validates a named instance the family's way first.
    """

    def listed(registry: Registry[InstanceT]) -> dict[str, Any]:
        return {"instances": [describe(i) for i in registry.instances.values()]}

    @router.get(list_path)
    async def list_instances(request: Request) -> dict[str, Any]:
        return listed(registry_of(request))

    @router.post(reset_path)
    async def reset(request: Request, body: ResetIn | None = None) -> dict[str, Any]:
        wanted = body or ResetIn()
        registry = registry_of(request)
        if wanted.instance is not None:
            instance_of(request, wanted.instance)  # validates the name
        registry.reset(seed=wanted.seed, name=wanted.instance)
        return listed(registry)
