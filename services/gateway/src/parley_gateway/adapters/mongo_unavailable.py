"""Which PyMongo errors mean "the database is unavailable right now".

Those are answered 503 + Retry-After (REST) or ``SERVICE_UNAVAILABLE`` (GraphQL): the
request was fine and will work once MongoDB answers again. Every other PyMongo error
(a bad query, a duplicate key, ...) is a fault of ours and stays a 500.
"""

from __future__ import annotations

from pymongo.errors import (
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    PyMongoError,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from parley_gateway.config import GatewaySettings

# MongoDB error codes of an operation the server gave up on or cannot serve now:
# MaxTimeMSExpired, InterruptedAtShutdown, InterruptedDueToReplStateChange,
# NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary, HostUnreachable,
# HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown.
_UNAVAILABLE_CODES = frozenset({50, 11600, 11602, 10107, 13435, 13436, 6, 7, 89, 91, 189})


def store_unavailable(error: BaseException) -> bool:
    """True for server selection, network and timeout errors (and their kin)."""
    if not isinstance(error, PyMongoError):
        return False
    # ConnectionFailure covers AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError.
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    # A client-side operation timeout (timeoutMS) may surface as another class.
    if error.timeout:
        return True
    code = getattr(error, "code", None)
    return code in _UNAVAILABLE_CODES


def bound_ms(error: PyMongoError, settings: GatewaySettings) -> int | None:
    """The configured bound the failed operation ran into, if it ran into one.

    Clients are told it (the refusal is a bound, not a hang), never the error itself.
    """
    if settings.mongodb_timeout_ms and error.timeout:
        # timeoutMS bounds everything, server selection included.
        return settings.mongodb_timeout_ms
    if isinstance(error, ServerSelectionTimeoutError):
        return settings.mongodb_server_selection_timeout_ms
    if isinstance(error, ExecutionTimeout) or getattr(error, "code", None) == 50:
        return settings.gateway_query_max_time_ms
    if isinstance(error, NetworkTimeout):
        return settings.mongodb_socket_timeout_ms
    return None
