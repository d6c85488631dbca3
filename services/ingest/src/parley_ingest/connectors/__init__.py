"""Connector families: each turns one marketplace API into raw thread snapshots.

:func:`build_connector` is the one place that maps a connection's family to its
connector, so the scheduler stays family-agnostic.
"""

from __future__ import annotations

from parley_ingest.connectors.mirakl import MiraklConnector
from parley_ingest.domain.connections import Connection
from parley_ingest.ports import Connector


class UnsupportedFamily(ValueError):
    """A connection names a marketplace family ingest has no connector for."""


def build_connector(connection: Connection) -> Connector:
    if connection.family == "mirakl":
        return MiraklConnector(connection)
    raise UnsupportedFamily(f"no connector for the {connection.family} family")
