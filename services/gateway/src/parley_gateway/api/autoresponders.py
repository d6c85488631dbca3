"""The autoresponders resource (F19): one per store, marketplace and channel.

``GET /autoresponders`` lists the saved ones of the caller's stores; each key is
read (defaults until saved), replaced (PUT), restored to its default text, or tested
(the rendered text mailed to the notification addresses). A store of another
account answers 404, like everywhere in this API.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from parley_gateway.api.dependencies import CallerScope, RequestedBy, get_caller
from parley_gateway.api.problems import (
    PROBLEM_RESPONSES,
    PROBLEM_TYPE_BASE,
    InputProblem,
    Problem,
    problem_response,
)
from parley_gateway.autoresponder_service import AutoresponderNotFound, AutoresponderService
from parley_gateway.bootstrap import Runtime
from parley_gateway.ports import MailNotSent
from parley_platform.logging import get_logger
from parley_store.autoresponders import (
    KEY_SEGMENT_PATTERN,
    LANGUAGES,
    MAX_ADDRESS_CHARS,
    MAX_NAME_CHARS,
    MAX_TEMPLATE_CHARS,
    PLACEHOLDERS,
    AutoresponderChange,
    AutoresponderKey,
    AutoresponderRejected,
    AutoresponderSettings,
)

log = get_logger(__name__)

router = APIRouter(
    prefix="/autoresponders",
    tags=["autoresponders"],
    dependencies=[Depends(get_caller)],
    responses={401: PROBLEM_RESPONSES[401]},
)

StoreId = Annotated[str, Path(pattern=KEY_SEGMENT_PATTERN, description="One of your stores")]
Marketplace = Annotated[
    str,
    Path(pattern=KEY_SEGMENT_PATTERN, description="The marketplace id, e.g. carrefour, allegro"),
]
Channel = Annotated[
    str,
    Path(
        pattern=KEY_SEGMENT_PATTERN,
        description="The marketplace's channel, e.g. messages, message_center",
    ),
]


def get_autoresponders(request: Request) -> AutoresponderService:
    runtime: Runtime = request.app.state.runtime
    return runtime.autoresponders


Autoresponders = Annotated[AutoresponderService, Depends(get_autoresponders)]


class AutoresponderOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    store_id: str
    marketplace: str
    channel: str
    enabled: bool
    language: str = Field(description="ISO 639-1 language of the text")
    template: str = Field(description=f"Plain text; placeholders: {', '.join(PLACEHOLDERS)}")
    sender_name: str | None
    shop_name: str
    notify_shop_address: str | None
    notify_extra_address: str | None
    saved: bool = Field(description="False while these are the defaults, never saved")
    default_text: bool = Field(description="The text is the marketplace's default text")
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, settings: AutoresponderSettings) -> AutoresponderOut:
        return cls(
            **settings.model_dump(
                include={
                    "store_id",
                    "marketplace",
                    "channel",
                    "enabled",
                    "language",
                    "template",
                    "sender_name",
                    "shop_name",
                    "notify_shop_address",
                    "notify_extra_address",
                    "updated_at",
                    "updated_by",
                }
            ),
            saved=settings.saved,
            default_text=settings.is_default_text,
        )


class AutoresponderList(BaseModel):
    items: list[AutoresponderOut]


class AutoresponderIn(BaseModel):
    """The whole setting; an omitted field takes its default (text and language: the
    marketplace's)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    template: str | None = Field(
        default=None,
        max_length=MAX_TEMPLATE_CHARS,
        description="Plain text with placeholders "
        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        + "; {{ and }} write literal braces",
    )
    language: str | None = Field(default=None, description=f"One of {', '.join(LANGUAGES)}")
    sender_name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    shop_name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    notify_shop_address: str | None = Field(
        default=None,
        max_length=MAX_ADDRESS_CHARS,
        description="Gets a copy of each autoresponse; required when enabled",
    )
    notify_extra_address: str | None = Field(default=None, max_length=MAX_ADDRESS_CHARS)


class TestSentOut(BaseModel):
    sent_to: list[str]
    message_id: str
    text: str = Field(description="The rendered text, with sample values")


def _key(store_id: str, marketplace: str, channel: str) -> AutoresponderKey:
    return AutoresponderKey(store_id, marketplace, channel)


_KEY_PATH = "/{store_id}/{marketplace}/{channel}"
_ERRORS: dict[int | str, dict[str, Any]] = {s: PROBLEM_RESPONSES[s] for s in (404, 422)}
_TEST_ERRORS: dict[int | str, dict[str, Any]] = {
    **{s: PROBLEM_RESPONSES[s] for s in (404, 422, 503)},
    502: {"model": Problem, "description": "The mail relay refused the mail"},
}


@router.get("", summary="List your saved autoresponders", responses={422: PROBLEM_RESPONSES[422]})
async def list_autoresponders(
    service: Autoresponders,
    scope: CallerScope,
    store_id: Annotated[
        list[str] | None, Query(description="Only these of your stores (repeatable)")
    ] = None,
) -> AutoresponderList:
    found = await service.list(scope, store_id or ())
    return AutoresponderList(items=[AutoresponderOut.of(s) for s in found])


@router.get(_KEY_PATH, summary="One autoresponder (its defaults until saved)", responses=_ERRORS)
async def get_autoresponder(
    service: Autoresponders,
    scope: CallerScope,
    store_id: StoreId,
    marketplace: Marketplace,
    channel: Channel,
) -> AutoresponderOut:
    return AutoresponderOut.of(await service.get(scope, _key(store_id, marketplace, channel)))


@router.put(_KEY_PATH, summary="Replace an autoresponder's settings", responses=_ERRORS)
async def put_autoresponder(
    service: Autoresponders,
    scope: CallerScope,
    requested_by: RequestedBy,
    store_id: StoreId,
    marketplace: Marketplace,
    channel: Channel,
    body: AutoresponderIn,
) -> AutoresponderOut:
    change = AutoresponderChange(**body.model_dump())
    saved = await service.replace(
        scope, _key(store_id, marketplace, channel), change, by=requested_by
    )
    return AutoresponderOut.of(saved)


@router.post(
    _KEY_PATH + "/restore-default",
    summary="Restore the marketplace's default text and language",
    responses=_ERRORS,
)
async def restore_autoresponder_default(
    service: Autoresponders,
    scope: CallerScope,
    requested_by: RequestedBy,
    store_id: StoreId,
    marketplace: Marketplace,
    channel: Channel,
) -> AutoresponderOut:
    restored = await service.restore_default(
        scope, _key(store_id, marketplace, channel), by=requested_by
    )
    return AutoresponderOut.of(restored)


@router.post(
    _KEY_PATH + "/test",
    summary="Mail the rendered text (sample values) to the notification addresses",
    responses=_TEST_ERRORS,
)
async def test_autoresponder(
    service: Autoresponders,
    scope: CallerScope,
    store_id: StoreId,
    marketplace: Marketplace,
    channel: Channel,
) -> TestSentOut:
    sent = await service.send_test(scope, _key(store_id, marketplace, channel))
    return TestSentOut(sent_to=sent.recipients, message_id=sent.message_id, text=sent.text)


async def _rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AutoresponderRejected)
    field = exc.field if exc.field not in ("store_id", "marketplace", "channel") else None
    problem = (
        InputProblem(pointer=f"#/{field}", detail=exc.detail, code=exc.code)
        if field
        else InputProblem(parameter=exc.field, detail=exc.detail, code=exc.code)
    )
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "invalid-autoresponder",
        title="Invalid autoresponder",
        errors=[problem],
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AutoresponderNotFound)
    return problem_response(
        request,
        HTTPStatus.NOT_FOUND,
        f"There is no store {exc.key.store_id} among yours.",
        problem_type=PROBLEM_TYPE_BASE + "autoresponder-not-found",
        title="Autoresponder not found",
    )


async def _mail_not_sent(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MailNotSent)
    log.warning("autoresponder test mail not sent", reason=str(exc), path=request.url.path)
    if exc.temporary:
        return problem_response(
            request,
            HTTPStatus.SERVICE_UNAVAILABLE,
            "The mail relay is not available right now; retry in a minute.",
            problem_type=PROBLEM_TYPE_BASE + "mail-not-sent",
            title="Mail not sent",
            headers={"Retry-After": "60"},
        )
    return problem_response(
        request,
        HTTPStatus.BAD_GATEWAY,
        f"The mail relay refused the test mail: {exc}",
        problem_type=PROBLEM_TYPE_BASE + "mail-not-sent",
        title="Mail not sent",
    )


def install_autoresponder_problems(app: FastAPI) -> None:
    """The resource's own errors, as problem+json like every other."""
    app.add_exception_handler(AutoresponderRejected, _rejected)
    app.add_exception_handler(AutoresponderNotFound, _not_found)
    app.add_exception_handler(MailNotSent, _mail_not_sent)
