"""The ``customers`` collection: buyers known by their marketplace customer id (F8).

A discussion links to its customer through ``customer_id``. The customer's ``_id``
is derived from store, marketplace and the marketplace's customer id, so two workers
that meet the same unknown buyer at once (two of their threads on two partitions)
both upsert the same document instead of creating two: no transaction or
conditional insert is needed, which FerretDB could not make atomic anyway.

The normalizer only creates customers; it never rewrites one, so a name or email a
merchant corrects later is not overwritten by the next sync.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

CUSTOMERS = "customers"


def customer_id_for(store_id: str, marketplace: str, marketplace_customer_id: str) -> str:
    """Deterministic: the same buyer of one store on one marketplace is one customer."""
    material = "\x1f".join((store_id, marketplace, "customer", marketplace_customer_id))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class CustomerDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    store_id: str
    marketplace: str
    marketplace_customer_id: str
    name: str | None = None
    email: str | None = None
    created_at: datetime
