"""Files for replies (F18) and the merchant's retry of a failed delivery (F17).

- ``POST /files`` (API key): upload a file for one of your stores; attach it to a
  reply by its id (``attachment_ids``).
- ``GET /links/{token}`` (public): the download link the responder put in a reply's
  text for a marketplace that could not carry the file. The buyer has no API key, so
  the link's signature and expiry are all that is checked: an expired link answers
  410, a forged or altered one 403, and neither ever serves the file.
- ``POST /discussions/{id}/deliveries/{command_id}/retry`` (API key): one more round
  for a failed reply delivery; 409 for any delivery that is not failed.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Path, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from parley_gateway.api.content import FILE_RESPONSE, file_response
from parley_gateway.api.dependencies import CallerScope, RequestedBy, get_caller
from parley_gateway.api.models import FileOut, RetryAccepted
from parley_gateway.api.problems import (
    PROBLEM_RESPONSES,
    PROBLEM_TYPE_BASE,
    InputProblem,
    Problem,
    problem_response,
)
from parley_gateway.bootstrap import Runtime
from parley_gateway.deliveries import DeliveryNotFound, DeliveryNotRetryable, DeliveryService
from parley_gateway.files import FileService, UploadRejected
from parley_platform.logging import get_logger
from parley_platform.signed_links import LinkRefused

log = get_logger(__name__)

FILES_PATH = "/files"


def _problem(status: int) -> dict[str, Any]:
    return {"model": Problem, "description": HTTPStatus(status).phrase}


class NotConfigured(RuntimeError):
    """The running gateway was wired without this feature (tests with partial fakes)."""


def get_files(request: Request) -> FileService:
    runtime: Runtime = request.app.state.runtime
    files = runtime.files
    if files is None:
        raise NotConfigured("file uploads are not wired")
    return files


def get_deliveries(request: Request) -> DeliveryService:
    runtime: Runtime = request.app.state.runtime
    deliveries = runtime.deliveries
    if deliveries is None:
        raise NotConfigured("delivery retries are not wired")
    return deliveries


Files = Annotated[FileService, Depends(get_files)]
Deliveries = Annotated[DeliveryService, Depends(get_deliveries)]

router = APIRouter(tags=["files"])


@router.post(
    FILES_PATH,
    status_code=201,
    summary="Upload a file for one of your stores, to attach to replies",
    dependencies=[Depends(get_caller)],
    responses={
        401: PROBLEM_RESPONSES[401],
        413: _problem(413),
        415: _problem(415),
        422: _problem(422),
    },
)
async def upload_file(
    file: Annotated[UploadFile, File(description="The file (multipart/form-data part)")],
    store_id: Annotated[str, Form(min_length=1, max_length=128, description="One of your stores")],
    files: Files,
    scope: CallerScope,
    uploaded_by: RequestedBy,
) -> FileOut:
    # One byte more than allowed tells "too large" without reading an endless part.
    content = await file.read(files.max_bytes + 1)
    info = await files.upload(
        scope, store_id, file.filename, file.content_type, content, uploaded_by=uploaded_by
    )
    return FileOut(
        id=info.file_id,
        name=info.name,
        size=info.size,
        content_type=info.content_type,
        store_id=store_id,
    )


@router.get(
    "/links/{token}",
    summary="Download a file through a link sent to a buyer (no API key)",
    response_class=StreamingResponse,
    responses={
        200: FILE_RESPONSE,
        403: _problem(403),
        410: _problem(410),
    },
)
async def download_link(
    token: Annotated[str, Path(min_length=1, max_length=256)], files: Files
) -> StreamingResponse:
    download = await files.open_link(token)
    # The link is a credential: keep it and the file out of shared caches.
    return file_response(
        download, {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
    )


@router.post(
    "/discussions/{discussion_id}/deliveries/{command_id}/retry",
    status_code=202,
    tags=["discussions"],
    summary="Retry a failed reply delivery (a new attempt, never a second reply)",
    response_description="Queued again; follow the delivery state on the discussion",
    dependencies=[Depends(get_caller)],
    responses={
        401: PROBLEM_RESPONSES[401],
        404: PROBLEM_RESPONSES[404],
        409: _problem(409),
        503: PROBLEM_RESPONSES[503],
    },
)
async def retry_delivery(
    discussion_id: Annotated[str, Path(min_length=1, max_length=128)],
    command_id: Annotated[str, Path(min_length=1, max_length=64)],
    request: Request,
    response: Response,
    deliveries: Deliveries,
    scope: CallerScope,
) -> RetryAccepted:
    queued = await deliveries.retry(scope, discussion_id, command_id)
    location = request.app.url_path_for("get_discussion", discussion_id=queued.discussion_id)
    response.headers["Location"] = request.scope.get("root_path", "") + location
    return RetryAccepted(command_id=queued.command_id, retry=queued.retry)


async def _upload_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadRejected)
    status = HTTPStatus(exc.status)
    return problem_response(
        request,
        status,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "invalid-upload",
        title="Upload refused",
        errors=[InputProblem(pointer=f"#/{exc.field}", detail=exc.detail, code=exc.code)],
    )


async def _link_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LinkRefused)
    # Never the token in the logs: it is a credential until it expires.
    log.info("download link refused", expired=exc.expired)
    if exc.expired:
        return problem_response(
            request,
            HTTPStatus.GONE,
            "This download link has expired; ask the seller for the file again.",
            problem_type=PROBLEM_TYPE_BASE + "link-expired",
            title="Link expired",
        )
    return problem_response(
        request,
        HTTPStatus.FORBIDDEN,
        "This download link is not valid.",
        problem_type=PROBLEM_TYPE_BASE + "link-invalid",
        title="Link not valid",
    )


async def _delivery_not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeliveryNotFound)
    return problem_response(
        request,
        HTTPStatus.NOT_FOUND,
        f"Discussion {exc.discussion_id} has no delivery {exc.command_id}.",
        problem_type=PROBLEM_TYPE_BASE + "delivery-not-found",
        title="Delivery not found",
    )


async def _not_retryable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeliveryNotRetryable)
    return problem_response(
        request,
        HTTPStatus.CONFLICT,
        f"{str(exc)[0].upper()}{str(exc)[1:]}.",
        problem_type=PROBLEM_TYPE_BASE + "delivery-not-retryable",
        title="Delivery not retryable",
    )


async def _not_configured(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        request, HTTPStatus.SERVICE_UNAVAILABLE, "This feature is not available here."
    )


def install_file_routes(app: FastAPI) -> None:
    """Adds the routes and the problem details of their errors."""
    app.include_router(router)
    app.add_exception_handler(UploadRejected, _upload_rejected)
    app.add_exception_handler(LinkRefused, _link_refused)
    app.add_exception_handler(DeliveryNotFound, _delivery_not_found)
    app.add_exception_handler(DeliveryNotRetryable, _not_retryable)
    app.add_exception_handler(NotConfigured, _not_configured)
