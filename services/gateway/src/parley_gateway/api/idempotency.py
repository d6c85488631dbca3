"""``Idempotency-Key`` on every mutating request, and limits on query strings.

Idempotency (:class:`IdempotencyKeys`): a POST, PUT, PATCH or DELETE carrying
``Idempotency-Key`` runs once per key and account; a repeat gets the first result
again (status, body, Location), marked ``Idempotent-Replayed: true``, and does nothing
new: no second reply, no second command on Kafka. It is one ASGI middleware rather
than code in each handler so that every mutating REST route, present or future, and
the GraphQL endpoint behave the same. For GraphQL the header applies to the POST as a
whole: send it with a request carrying a single mutation (a repeat replays the whole
response). Without the header a request runs as before.

Refusals (problem+json):

- 422 ``invalid-idempotency-key``: not 1..255 printable ASCII characters;
- 422 ``idempotency-key-reused``: the key was used for another request (method,
  path, query or body differ);
- 409 ``idempotency-key-in-progress`` + ``Retry-After``: the first request with the
  key has not finished yet.

The key is scoped to the caller's account (not to the API key or the session), so the
middleware authenticates the caller first, the way routes do
(:func:`parley_gateway.sessions.authenticate`): the same key sent with an API key of
the account or with the web inbox's session cookie is the same key, and another
account's same key is another key. Without a valid key or session (or for a cookie
request without the inbox's anti-forgery header) the request passes on and is refused
by the route (401, 403) as usual, and nothing is stored.

Query limits (:class:`QueryLimits`): a query string over ``max_bytes`` or a parameter
repeated more than ``max_repeats`` times is refused with 400 before any route parses it,
so a client cannot make one request expand into thousands of filter values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley_gateway.accounts import AccessService, NotAuthenticated
from parley_gateway.api.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    InputProblem,
    problem_response,
)
from parley_gateway.domain.idempotency import (
    IDEMPOTENCY_HEADER,
    KEY_PATTERN,
    MAX_KEY_CHARS,
    REPLAYED_HEADERS,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    StoredResponse,
    canonical_body,
    check_key,
    fingerprint,
)
from parley_gateway.idempotency import Begun, IdempotencyService, Replay
from parley_gateway.sessions import CSRF_HEADER, SESSION_COOKIE, CsrfRefused, authenticate
from parley_platform.logging import get_logger

log = get_logger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYED_MARK = "Idempotent-Replayed"
MAX_QUERY_BYTES = 4096
MAX_PARAMETER_REPEATS = 50


def _presented_key(headers: Headers) -> str | None:
    """The API key as the route's own dependency reads it (Bearer first, X-API-Key)."""
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key") or None


class IdempotencyKeys:
    """ASGI middleware; the service comes from the running app's runtime (None: off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in MUTATING_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(IDEMPOTENCY_HEADER)
        runtime = getattr(scope["app"].state, "runtime", None)
        service: IdempotencyService | None = getattr(runtime, "idempotency", None)
        if key is None or service is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            check_key(key)
        except InvalidIdempotencyKey as exc:
            await _invalid_key(request, exc)(scope, receive, send)
            return
        access: AccessService = runtime.access  # type: ignore[union-attr]
        try:
            caller = await authenticate(
                access,
                getattr(runtime, "sessions", None),
                presented_key=_presented_key(headers),
                session_secret=request.cookies.get(SESSION_COOKIE),
                method=request.method,
                csrf_header=headers.get(CSRF_HEADER),
            )
        except (NotAuthenticated, CsrfRefused):
            await self.app(scope, receive, send)  # the route answers 401 or 403
            return

        body = await request.body()  # bounded by BodySizeLimit, outside this middleware
        request_fingerprint = fingerprint(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            canonical_body(headers.get("content-type"), body),
        )
        try:
            outcome = await service.begin(caller.account_id, key, request_fingerprint)
        except IdempotencyKeyReused as exc:
            await _key_reused(request, exc)(scope, receive, send)
            return
        except IdempotencyKeyInProgress as exc:
            await _key_in_progress(request, exc)(scope, receive, send)
            return
        if isinstance(outcome, Replay):
            await _replay(outcome.response)(scope, receive, send)
            return
        await self._run_once(outcome, service, body, scope, receive, send)

    async def _run_once(
        self,
        begun: Begun,
        service: IdempotencyService,
        body: bytes,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Runs the request with its already-read body, keeping what it answers."""
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # a disconnect, for whoever listens for one

        status = 0
        kept_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capturing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                raw = Headers(raw=message.get("headers", []))
                kept_headers.extend((name, raw[name]) for name in REPLAYED_HEADERS if name in raw)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capturing_send)
        except BaseException:
            await _quietly(service.abandon(begun))
            raise
        if status == 0:
            await _quietly(service.abandon(begun))
            return
        await _quietly(
            service.finish(begun, StoredResponse(status, b"".join(chunks), tuple(kept_headers)))
        )


async def _quietly(step: Any) -> None:
    """The response is already sent: a failure to store it costs the client only the
    replay (its repeat runs again once the lease ends), so it is logged, not raised."""
    try:
        await step
    except Exception:
        log.warning("idempotency record not updated", exc_info=True)


def _replay(stored: StoredResponse) -> Response:
    response = Response(content=stored.body, status_code=stored.status)
    for name, value in stored.headers:
        response.headers[name] = value
    response.headers[REPLAYED_MARK] = "true"
    return response


def _invalid_key(request: Request, exc: InvalidIdempotencyKey) -> Response:
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "invalid-idempotency-key",
        title="Invalid idempotency key",
        errors=[
            InputProblem(
                parameter=IDEMPOTENCY_HEADER, detail=exc.detail, code="invalid_idempotency_key"
            )
        ],
    )


def _key_reused(request: Request, exc: IdempotencyKeyReused) -> Response:
    return problem_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "idempotency-key-reused",
        title="Idempotency key reused",
        errors=[
            InputProblem(
                parameter=IDEMPOTENCY_HEADER, detail=exc.detail, code="idempotency_key_reused"
            )
        ],
    )


def _key_in_progress(request: Request, exc: IdempotencyKeyInProgress) -> Response:
    return problem_response(
        request,
        HTTPStatus.CONFLICT,
        exc.detail,
        problem_type=PROBLEM_TYPE_BASE + "idempotency-key-in-progress",
        title="Request in progress",
        headers={"Retry-After": str(exc.retry_after)},
    )


class QueryLimits:
    """ASGI middleware: 400 for an oversized query string or a parameter repeated too
    often, before FastAPI expands it into lists."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_QUERY_BYTES,
        max_repeats: int = MAX_PARAMETER_REPEATS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_repeats = max_repeats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(scope.get("query_string", b""))
            if problem is not None:
                detail, parameter, code = problem
                response = problem_response(
                    Request(scope, receive),
                    HTTPStatus.BAD_REQUEST,
                    detail,
                    problem_type=PROBLEM_TYPE_BASE + "query-too-large",
                    title="Query too large",
                    errors=[InputProblem(parameter=parameter, detail=detail, code=code)],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, query: bytes) -> tuple[str, str | None, str] | None:
        if len(query) > self.max_bytes:
            return (
                f"the query string has {len(query)} bytes; at most {self.max_bytes} are accepted",
                None,
                "query_too_long",
            )
        if not query:
            return None
        counts = Counter(
            name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        )
        name, repeats = counts.most_common(1)[0] if counts else ("", 0)
        if repeats > self.max_repeats:
            return (
                f"the parameter {name!r} is given {repeats} times; at most "
                f"{self.max_repeats} values are accepted",
                name,
                "too_many_values",
            )
        return None


# --- OpenAPI ---------------------------------------------------------------------------

_PROBLEM_REF = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_KEY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the request safe to repeat: the first result is kept 24 h for your account "
        "and returned again (with Idempotent-Replayed: true) to any request with the same "
        "key, which then does nothing new. The same key on a different request is refused "
        "with 422; while the first request is still running, 409 with Retry-After. "
        f"1..{MAX_KEY_CHARS} printable ASCII characters; a UUID is a good choice."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_CHARS,
        "pattern": KEY_PATTERN,
    },
}


def document_request_rules(app: FastAPI) -> None:
    """Adds the Idempotency-Key header and its 409/422 to every mutating operation, and
    the 400 of the query limits to every operation with query parameters."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for path in schema.get("paths", {}).values():
            for method, operation in path.items():
                _document_operation(method, operation)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    if method.upper() in MUTATING_METHODS:
        if not _has_parameter(parameters, IDEMPOTENCY_HEADER):
            parameters.append(dict(_KEY_PARAMETER))
        for status in ("409", "422"):
            responses.setdefault(
                status,
                {"description": HTTPStatus(int(status)).phrase, "content": _PROBLEM_REF},
            )
    if any(p.get("in") == "query" for p in parameters):
        responses.setdefault(
            "400", {"description": HTTPStatus(400).phrase, "content": _PROBLEM_REF}
        )
    if not parameters:
        del operation["parameters"]


def _has_parameter(parameters: Iterable[dict[str, Any]], name: str) -> bool:
    return any(p.get("name") == name for p in parameters)


__all__ = ["IdempotencyKeys", "QueryLimits", "document_request_rules"]
