"""Parley's per-store inbound addresses: what the merchant sets in the marketplace back office.

Each email-relay connection gets its own address on Parley's inbound domain; the
recipient of an incoming mail is therefore enough to know the store and marketplace.
The local part holds a random token, so an address cannot be guessed from a store's
name and a leaked one can be replaced by activating the connection again.
"""

from __future__ import annotations

import re
import secrets

_SLUG = re.compile(r"[^a-z0-9]+")


def new_inbound_address(store_id: str, marketplace: str, domain: str) -> str:
    """``<store>-<marketplace>-<token>@<domain>``, lower case, e.g.
    ``shop-1-amazon-de-5f3a9c1e7b2d@inbound.parley.example``."""
    domain = domain.strip().lower().strip(".")
    if not domain or "@" in domain or "." not in domain:
        raise ValueError(f"not a mail domain: {domain!r}")
    label = _SLUG.sub("-", f"{store_id}-{marketplace}".lower()).strip("-")[:40].strip("-")
    token = secrets.token_hex(6)
    return f"{label}-{token}@{domain}" if label else f"{token}@{domain}"


def normalize_address(address: str) -> str:
    """How addresses are compared: without surrounding brackets/space, lower case."""
    return address.strip().strip("<>").strip().lower()
