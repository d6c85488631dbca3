"""Connectors: each family's reader, built from the family registry.

:func:`build_connector` is the one place that maps a connection's family to its
reader (:mod:`parley_connectors.registry`), so the scheduler stays family-agnostic and
a new family folder needs no change here.
"""

from __future__ import annotations

from parley_connectors.reading import CredentialsRepository, Reader, ReaderDeps
from parley_connectors.registry import family
from parley_ingest.domain.connections import Connection
from parley_ingest.ports import ConnectorFactory


def build_connector(
    connection: Connection, credentials: CredentialsRepository | None = None
) -> Reader:
    """``credentials`` receives rotated OAuth tokens (Allegro); others ignore it.
    Raises :class:`~parley_connectors.registry.UnknownFamily` for a family no folder
    declares (the sync flags the connection)."""
    found = family(connection.family)
    assert found.reader is not None  # the registry refuses a family without one
    return found.reader(connection, ReaderDeps(credentials=credentials))


def connector_factory(credentials: CredentialsRepository) -> ConnectorFactory:
    """:func:`build_connector` bound to where rotated credentials are saved."""

    def build(connection: Connection) -> Reader:
        return build_connector(connection, credentials)

    return build
