"""Connector families: each turns one marketplace API into raw thread snapshots.

:func:`build_connector` is the one place that maps a connection's family to its
connector, so the scheduler stays family-agnostic.
"""

from __future__ import annotations

from parley_ingest.connectors.allegro import AllegroConnector, CredentialsRepository
from parley_ingest.connectors.email_relay import EmailRelayConnector
from parley_ingest.connectors.fnac import FnacConnector
from parley_ingest.connectors.mirakl import MiraklConnector
from parley_ingest.connectors.rakuten import RakutenConnector
from parley_ingest.domain.connections import Connection
from parley_ingest.ports import Connector, ConnectorFactory


class UnsupportedFamily(ValueError):
    """A connection names a marketplace family ingest has no connector for."""


def build_connector(
    connection: Connection, credentials: CredentialsRepository | None = None
) -> Connector:
    """``credentials`` receives rotated OAuth tokens (Allegro); others ignore it."""
    if connection.family == "mirakl":
        return MiraklConnector(connection)
    if connection.family == "email_relay":
        return EmailRelayConnector(connection)
    if connection.family == "fnac":
        return FnacConnector(connection)
    if connection.family == "rakuten":
        return RakutenConnector(connection)
    if connection.family == "allegro":
        return AllegroConnector(connection, credentials=credentials)
    raise UnsupportedFamily(f"no connector for the {connection.family} family")


def connector_factory(credentials: CredentialsRepository) -> ConnectorFactory:
    """:func:`build_connector` bound to where rotated credentials are saved."""

    def build(connection: Connection) -> Connector:
        return build_connector(connection, credentials)

    return build
