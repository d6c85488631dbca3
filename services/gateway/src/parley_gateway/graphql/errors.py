"""GraphQL errors with a stable ``extensions.code``, never internals.

Resolvers raise the same domain exceptions as REST does; this module gives each the
message REST's problem details give, and a code clients can branch on:

- ``UNAUTHENTICATED``: no API key, or not a valid one
- ``NOT_FOUND``: no such discussion, attachment or autoresponder *in the caller's
  stores*
- ``VALIDATION``: an argument breaks a rule (``extensions.field`` names it,
  ``extensions.reason`` says which rule)
- ``BAD_REQUEST``: a malformed request (unknown cursor, invalid query or variables)
- ``CONFLICT``: the action does not apply in the current state (e.g. retrying a
  delivery that has not failed, ``extensions.state`` saying where it stands; a credit
  note for an order not invoiced yet, REST's 409)
- ``SERVICE_UNAVAILABLE``: the command could not be queued, or the store did not
  answer in time; retry shortly
- ``QUERY_TOO_COSTLY``: the query's estimated cost is over the limit (see
  parley_gateway.graphql.cost); nothing ran
- ``INTERNAL_SERVER_ERROR``: anything else, logged with its traceback, answered
  without it
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from pymongo.errors import PyMongoError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from parley_gateway.accounts import NotAuthenticated
from parley_gateway.adapters.mongo_unavailable import store_unavailable
from parley_gateway.autoresponder_service import AutoresponderNotFound
from parley_gateway.deliveries import DeliveryNotFound, DeliveryNotRetryable
from parley_gateway.domain import InvalidCursor, InvalidFilter, ReplyRejected, WorkflowRejected
from parley_gateway.graphql.context import Unavailable
from parley_gateway.invoices import (
    InvoiceFieldsMissing,
    InvoiceFileNotFound,
    SettingsNotSaved,
    StoreNotInScope,
)
from parley_gateway.ports import (
    InvoicerRefused,
    InvoicerUnavailable,
    MailNotSent,
)
from parley_gateway.service import AttachmentNotFound, DiscussionNotFound
from parley_platform.logging import get_logger
from parley_store.autoresponders import AutoresponderRejected

log = get_logger(__name__)

UNAUTHENTICATED = "UNAUTHENTICATED"
NOT_FOUND = "NOT_FOUND"
VALIDATION = "VALIDATION"
BAD_REQUEST = "BAD_REQUEST"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
CONFLICT = "CONFLICT"
INTERNAL = "INTERNAL_SERVER_ERROR"


class InvalidArgument(ValueError):
    """An argument the GraphQL layer itself checks (e.g. a page size out of range)."""

    def __init__(self, field: str, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.reason = reason


def describe(error: BaseException | None) -> tuple[str, dict[str, Any]] | None:
    """The client-facing message and extensions of a known error; None otherwise."""
    if isinstance(error, NotAuthenticated):
        if error.presented:
            return "The API key is not valid (unknown or revoked).", {"code": UNAUTHENTICATED}
        return (
            "An API key is required: send Authorization: Bearer <key> (or X-API-Key).",
            {"code": UNAUTHENTICATED},
        )
    if isinstance(error, DiscussionNotFound):
        return f"There is no discussion {error.discussion_id}.", {"code": NOT_FOUND}
    if isinstance(error, AttachmentNotFound):
        return (
            f"Discussion {error.discussion_id} has no stored attachment {error.file_id}.",
            {"code": NOT_FOUND},
        )
    if isinstance(error, InvalidCursor):
        return (
            "The cursor is not one this API returned; list again without it.",
            {"code": BAD_REQUEST, "field": "after", "reason": "invalid_cursor"},
        )
    if isinstance(error, ReplyRejected | WorkflowRejected):
        return error.detail, {"code": VALIDATION, "field": error.field, "reason": error.code}
    if isinstance(error, InvalidFilter):
        return error.detail, {"code": VALIDATION, "field": error.parameter, "reason": error.code}
    if isinstance(error, InvalidArgument):
        return error.detail, {"code": VALIDATION, "field": error.field, "reason": error.reason}
    if isinstance(error, DeliveryNotFound):
        return (
            f"Discussion {error.discussion_id} has no reply {error.command_id}.",
            {"code": NOT_FOUND},
        )
    if isinstance(error, DeliveryNotRetryable):
        return str(error), {"code": CONFLICT, "state": error.state}
    if isinstance(error, AutoresponderNotFound):
        return f"There is no autoresponder {error.key.id} in your stores.", {"code": NOT_FOUND}
    if isinstance(error, AutoresponderRejected):
        return error.detail, {"code": VALIDATION, "field": error.field, "reason": error.code}
    if isinstance(error, MailNotSent):
        return (
            f"The mail relay did not take the test mail: {error}",
            {"code": SERVICE_UNAVAILABLE, "temporary": error.temporary},
        )
    if isinstance(error, Unavailable):
        return str(error), {"code": SERVICE_UNAVAILABLE}
    if isinstance(error, StoreNotInScope | SettingsNotSaved | InvoiceFileNotFound):
        return f"{str(error)[0].upper()}{str(error)[1:]}.", {"code": NOT_FOUND}
    if isinstance(error, InvoiceFieldsMissing):
        fields = list(error.fields)
        return (
            f"The invoice needs {', '.join(fields)}: {error.fields[fields[0]]}.",
            {"code": VALIDATION, "field": fields[0], "fields": fields, "reason": "missing"},
        )
    if isinstance(error, InvoicerRefused):
        pointers = [str(e.get("pointer")) for e in error.problem.get("errors") or []]
        code = {404: NOT_FOUND, 409: CONFLICT}.get(error.status, VALIDATION)
        return str(error), {"code": code, "fields": pointers}
    if isinstance(error, InvoicerUnavailable):
        return (
            "The invoice service did not answer, so nothing was issued; retry in a few "
            "seconds (a retry never issues a second invoice).",
            {"code": SERVICE_UNAVAILABLE},
        )
    if isinstance(error, PyMongoError) and store_unavailable(error):
        return (
            "The discussion store did not answer in time; retry in a few seconds.",
            {"code": SERVICE_UNAVAILABLE},
        )
    return None


def is_unexpected(error: GraphQLError) -> bool:
    """Raised by our code (not a GraphQL syntax or type error) and not a known one."""
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLError)
        and (describe(original) is None)
    )


def public_error(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: a known message and code, or a masked one."""
    original = error.original_error
    known = describe(original)
    if known is not None:
        message, extensions = known
    elif is_unexpected(error):
        message = "Something went wrong on our side; it has been logged. Retry later."
        extensions = {"code": INTERNAL}
    else:
        # Parsing, validation and variable coercion: graphql-core's message is meant
        # for clients and names the offending part of the query. Our own limits (the
        # cost limit) bring their own code.
        code = (error.extensions or {}).get("code", BAD_REQUEST)
        message, extensions = error.message, {"code": code}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **extensions},
    )


class PublicErrors(SchemaExtension):
    """Rewrites every error of a result into its public form, after execution."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [public_error(e) for e in errors]


def log_unexpected(errors: list[GraphQLError], context: ExecutionContext | None) -> None:
    """Only unexpected errors are worth a traceback in the logs: domain errors are
    answers, not faults."""
    for error in errors:
        if is_unexpected(error):
            original = error.original_error
            assert original is not None
            log.error(
                "unhandled GraphQL error",
                path=list(error.path or ()),
                operation=context.operation_name if context else None,
                exc_info=(type(original), original, original.__traceback__),
            )
