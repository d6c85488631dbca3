"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error has the same shape: ``type``, ``title``, ``status``, ``detail``,
``instance`` (the request path), plus ``errors`` naming each invalid input (a JSON
Pointer into the body, or a query/path parameter) when the request was invalid.
Unexpected failures are logged with their traceback and answered without internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley_gateway.accounts import NotAuthenticated
from parley_gateway.adapters.mongo_unavailable import bound_ms, store_unavailable
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import InvalidCursor, InvalidFilter, ReplyRejected, WorkflowRejected
from parley_gateway.service import AttachmentNotFound, DiscussionNotFound
from parley_platform.logging import get_logger, mask_secrets

PROBLEM_MEDIA_TYPE = "application/problem+json"
DEFAULT_RETRY_AFTER_SECONDS = 5
PROBLEM_TYPE_BASE = "https://parley.dev/problems/"

log = get_logger(__name__)


class InputProblem(BaseModel):
    """One invalid input: ``pointer`` for the JSON body, ``parameter`` otherwise."""

    pointer: str | None = Field(default=None, examples=["#/body"])
    parameter: str | None = Field(default=None, examples=["limit"])
    detail: str
    code: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(examples=["https://parley.dev/problems/discussion-not-found"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[InputProblem] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 404, 413, 422, 500, 503)
}
# RFC 6750 §3: the challenge names the realm; error="invalid_token" once a key was sent.
AUTH_REALM = 'Bearer realm="parley"'


def problem_response(
    request: Request,
    status: HTTPStatus,
    detail: str,
    *,
    problem_type: str = "about:blank",
    title: str | None = None,
    errors: list[InputProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=problem_type,
        title=title or status.phrase,
        status=status.value,
        detail=detail,
        # The path, but a capability in it (a download link's token) is a credential.
        instance=mask_secrets(request.url.path),
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status.value,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def input_problem(
    location: tuple[int | str, ...] | list[int | str], detail: str, code: str
) -> InputProblem:
    """``("body", "recipients", 0)`` → pointer ``#/recipients/0``; ``("query", "limit")``
    → parameter ``limit``."""
    parts = list(location)
    where = parts.pop(0) if parts and parts[0] in ("body", "query", "path", "header") else "body"
    if where == "body":
        escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
        return InputProblem(
            pointer="#" + "".join(f"/{p}" for p in escaped), detail=detail, code=code
        )
    return InputProblem(parameter=".".join(str(p) for p in parts), detail=detail, code=code)


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [input_problem(e["loc"], e["msg"], e["type"]) for e in exc.errors()]
    count = len(errors)
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"The request has {count} invalid input{'s' if count != 1 else ''}; "
        "see errors for each one.",
        problem_type=PROBLEM_TYPE_BASE + "invalid-request",
        title="Invalid request",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    return problem_response(request, status, detail, headers=exc.headers)


async def _reply_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReplyRejected)
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "invalid-reply",
        title="Invalid reply",
        errors=[InputProblem(pointer=f"#/{exc.field}", detail=exc.detail, code=exc.code)],
    )


async def _workflow_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowRejected)
    pointer = f"#/{exc.field}" if exc.field else "#"
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "invalid-request",
        title="Invalid request",
        errors=[InputProblem(pointer=pointer, detail=exc.detail, code=exc.code)],
    )


async def _invalid_filter(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidFilter)
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "invalid-request",
        title="Invalid request",
        errors=[InputProblem(parameter=exc.parameter, detail=exc.detail, code=exc.code)],
    )


async def _not_authenticated(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotAuthenticated)
    if exc.presented:
        detail = "The API key is not valid (unknown or revoked)."
        challenge = f'{AUTH_REALM}, error="invalid_token"'
    else:
        detail = "An API key is required: send Authorization: Bearer <key> (or X-API-Key)."
        challenge = AUTH_REALM
    return problem_response(
        request,
        HTTPStatus.UNAUTHORIZED,
        detail,
        problem_type=PROBLEM_TYPE_BASE + "unauthenticated",
        title="Not authenticated",
        headers={"WWW-Authenticate": challenge},
    )


async def _invalid_cursor(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        request,
        HTTPStatus.BAD_REQUEST,
        "The cursor is not one this API returned; list again without it.",
        problem_type=PROBLEM_TYPE_BASE + "invalid-cursor",
        title="Invalid cursor",
        errors=[InputProblem(parameter="cursor", detail=str(exc), code="invalid_cursor")],
    )


async def _discussion_not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DiscussionNotFound)
    return problem_response(
        request,
        HTTPStatus.NOT_FOUND,
        f"There is no discussion {exc.discussion_id}.",
        problem_type=PROBLEM_TYPE_BASE + "discussion-not-found",
        title="Discussion not found",
    )


async def _attachment_not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AttachmentNotFound)
    return problem_response(
        request,
        HTTPStatus.NOT_FOUND,
        f"Discussion {exc.discussion_id} has no stored attachment {exc.file_id}.",
        problem_type=PROBLEM_TYPE_BASE + "attachment-not-found",
        title="Attachment not found",
    )


def retry_after(request: Request) -> str:
    """Seconds a client should wait after a 503 for a dependency that is down."""
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "gateway_retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS))


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    """A database outage is a 503 the client can retry, not a fault of ours."""
    if not store_unavailable(exc):
        return await _unexpected(request, exc)
    log.warning("database unavailable", error=type(exc).__name__, path=request.url.path)
    assert isinstance(exc, PyMongoError)
    settings = getattr(request.app.state, "settings", None)
    bound = bound_ms(exc, settings) if isinstance(settings, GatewaySettings) else None
    within = f" within {bound / 1000:g} s" if bound else ""
    return problem_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        f"The discussion store did not answer{within}; retry after the Retry-After delay.",
        problem_type=PROBLEM_TYPE_BASE + "store-unavailable",
        title="Store unavailable",
        headers={"Retry-After": retry_after(request)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error",
        method=request.method,
        path=request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return problem_response(
        request,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; it has been logged. Retry later.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, expected or not, as problem+json, and document it so."""
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(ReplyRejected, _reply_rejected)
    app.add_exception_handler(WorkflowRejected, _workflow_rejected)
    app.add_exception_handler(InvalidFilter, _invalid_filter)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(DiscussionNotFound, _discussion_not_found)
    app.add_exception_handler(AttachmentNotFound, _attachment_not_found)
    app.add_exception_handler(PyMongoError, _store_error)
    app.add_exception_handler(Exception, _unexpected)
    _document_problems_as_problem_json(app)


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """FastAPI files a response ``model`` under application/json; move error responses
    under application/problem+json, the media type they are actually sent with.

    FastAPI also documents its own 422 body (``HTTPValidationError``) on every route
    with inputs, which the gateway never sends: those become Problem too, so the
    document promises what clients actually get. A body that cannot even be parsed
    (not JSON, not UTF-8, broken multipart) is a 400 on every operation that takes one.
    """
    generate = app.openapi
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault(
                            "400",
                            {"description": HTTPStatus(400).phrase, "content": problem_content},
                        )
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status == "422":
                            response["description"] = HTTPStatus(422).phrase
                            response["content"] = problem_content
                        elif status[0] in "45" and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            components = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
