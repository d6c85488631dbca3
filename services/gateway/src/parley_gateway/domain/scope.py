"""Which stores a caller may see.

Every read and write of the service layer takes a :class:`Scope`, so tenant isolation
is decided once per request: the API resolves the caller's key to its account, whose
stores are the scope (F15). :meth:`Scope.all_stores` is for trusted in-process callers
(tests, operator tools), never for an API request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """``store_ids=None`` means every store; an empty set means none at all."""

    store_ids: frozenset[str] | None

    @classmethod
    def all_stores(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, store_ids: Iterable[str]) -> Scope:
        return cls(frozenset(store_ids))

    def allows(self, store_id: str) -> bool:
        return self.store_ids is None or store_id in self.store_ids

    def narrow(self, requested: Iterable[str] = ()) -> frozenset[str] | None:
        """The stores a query may touch: the requested ones this scope allows.

        ``None`` means no store restriction at all (every store, none requested).
        A request for stores outside the scope narrows to nothing rather than
        failing, so a caller cannot tell someone else's store id from an unknown one.
        """
        wanted = frozenset(requested)
        if self.store_ids is None:
            return wanted or None
        return self.store_ids & wanted if wanted else self.store_ids
