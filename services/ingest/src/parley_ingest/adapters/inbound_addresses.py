"""MongoDB lookup of an email-relay connection by its inbound address.

The address lives in the connection's ``options.inbound_address`` (written by
``add-connection --family email_relay``), in lower case. Connections are one document
per store and marketplace, a small collection, so the lookup needs no index of its own.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_connectors.email_relay import normalize_address
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection
from parley_store import CONNECTIONS

INBOUND_ADDRESS_OPTION = "inbound_address"


class MongoInboundAddressBook:
    def __init__(self, db: AsyncDatabase[Any], connections: MongoConnectionRepository) -> None:
        self._col = db[CONNECTIONS]
        self._connections = connections

    async def connection_for(self, address: str) -> Connection | None:
        doc = await self._col.find_one(
            {f"options.{INBOUND_ADDRESS_OPTION}": normalize_address(address)}, {"_id": 1}
        )
        if doc is None:
            return None
        return await self._connections.get(str(doc["_id"]))
