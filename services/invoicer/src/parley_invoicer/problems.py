"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the invoicer returns has the same shape, so the gateway can pass a
validation failure through to the API client unchanged: ``errors`` lists each invalid
field as a JSON Pointer into the request body, with a message a merchant can act on.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley_invoicer.numbering import SeriesExhaustedError
from parley_invoicer.service import InvalidRefundError, NotFoundError, NotInvoicedError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://parley.dev/problems/"


class FieldProblem(BaseModel):
    """One invalid field of the request."""

    pointer: str
    detail: str
    code: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class MissingFieldsError(ValueError):
    """Fields the request must supply and did not (e.g. settings never saved), each as
    a JSON Pointer with its message: answered like a validation error (422)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


def problem_response(
    status: HTTPStatus,
    detail: str,
    *,
    problem_type: str = "about:blank",
    title: str | None = None,
    errors: list[FieldProblem] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=problem_type,
        title=title or status.phrase,
        status=status.value,
        detail=detail,
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status.value,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def json_pointer(location: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "order", "lines", 0)`` → ``#/order/lines/0`` (RFC 6901, as a fragment)."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "#" + "".join(f"/{part}" for part in escaped)


def _field_problems(raw_errors: Any) -> list[FieldProblem]:
    return [
        FieldProblem(pointer=json_pointer(error["loc"]), detail=error["msg"], code=error["type"])
        for error in raw_errors
    ]


async def _validation_failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_problems(exc.errors())
    count = len(errors)
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"The request has {count} invalid field{'s' if count != 1 else ''}; "
        "see errors for each one.",
        problem_type=PROBLEM_TYPE_BASE + "invalid-request",
        title="Invalid request",
        errors=errors,
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    return problem_response(status, detail)


async def _series_exhausted(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        HTTPStatus.CONFLICT,
        f"{exc}: choose a new numbering prefix to continue invoicing.",
        problem_type=PROBLEM_TYPE_BASE + "numbering-series-exhausted",
        title="Invoice numbering series exhausted",
    )


async def _field_errors(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MissingFieldsError | InvalidRefundError)
    missing = isinstance(exc, MissingFieldsError)
    errors = [
        FieldProblem(pointer=pointer, detail=detail, code="missing" if missing else "refund")
        for pointer, detail in exc.fields.items()
    ]
    verb = "misses" if missing else "has invalid"
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"The request {verb} {', '.join(exc.fields)}; see errors for each one.",
        problem_type=PROBLEM_TYPE_BASE + "invalid-request",
        title="Invalid request",
        errors=errors,
    )


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(HTTPStatus.NOT_FOUND, f"{exc}.")


async def _not_invoiced(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        HTTPStatus.CONFLICT,
        f"{exc}: issue the order's invoice first.",
        problem_type=PROBLEM_TYPE_BASE + "order-not-invoiced",
        title="Order not invoiced",
    )


async def _unexpected(_: Request, __: Exception) -> JSONResponse:
    # No internals in the body. Starlette re-raises after this handler has answered,
    # so the server still logs the traceback.
    return problem_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "The invoice could not be produced; retry later."
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, expected or not, as problem+json, and document it so."""
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SeriesExhaustedError, _series_exhausted)
    app.add_exception_handler(MissingFieldsError, _field_errors)
    app.add_exception_handler(InvalidRefundError, _field_errors)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(NotInvoicedError, _not_invoiced)
    app.add_exception_handler(Exception, _unexpected)
    _document_problems_as_problem_json(app)


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """FastAPI files a response ``model`` under application/json; move error responses
    under application/problem+json, the media type they are actually sent with."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[0] in "45" and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
