"""MongoDB lookup of an email-relay connection by its inbound address.

The address lives in the connection's ``options.inbound_address`` (written by
``add-connection --family email_relay``), in lower case. Each relay mail asks which
connection its recipient address belongs to, so the address has a key document of
its own whose ``_id`` is the address (``inbound_addresses``, written with the
connection, see :mod:`parley_store.connections`): the lookup is two reads by ``_id``,
never a scan of the connections for a nested option.
"""

from __future__ import annotations

from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection


class MongoInboundAddressBook:
    def __init__(self, connections: MongoConnectionRepository) -> None:
        self._connections = connections

    async def connection_for(self, address: str) -> Connection | None:
        return await self._connections.find_by_address(address)
