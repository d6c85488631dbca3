"""Named instances of one family in one sandbox process, created on first use.

Every family keeps several independent instances (Fnac and Darty, several Rakuten
sellers, several Allegro accounts) behind one URL prefix. Any well-formed name is an
instance, made empty on first use, so a test can pick a fresh name instead of cleaning
up; a reset forgets one instance or all and, when asked, seeds the demo data again by
seeding a blank registry and keeping what it made.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Generic, Self, TypeVar

INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

InstanceT = TypeVar("InstanceT")


class InstanceRegistry(Generic[InstanceT]):
    """Base of a family's sandbox: subclasses say how to make, refuse and copy."""

    _seeder: Callable[[Self], None] | None

    def __init__(self, *, seed: bool, seeder: Callable[[Self], None] | None) -> None:
        self.instances: dict[str, InstanceT] = {}
        self._seeder = seeder
        if seed and seeder is not None:
            seeder(self)

    def _create(self, name: str) -> InstanceT:
        """A new, empty instance called ``name``."""
        raise NotImplementedError

    def _unknown(self, name: str) -> Exception:
        """The family's refusal of a name that cannot be an instance."""
        raise NotImplementedError

    def _blank(self) -> Self:
        """An empty, unseeded registry sharing this one's clock."""
        raise NotImplementedError

    def instance(self, name: str) -> InstanceT:
        if not INSTANCE_NAME.match(name):
            raise self._unknown(name)
        found = self.instances.get(name)
        if found is None:
            found = self._create(name)
            self.instances[name] = found
        return found

    def reset(self: Self, *, seed: bool, name: str | None = None) -> None:
        """Forgets one instance (or all); with ``seed``, its demo data comes back."""
        if name is None:
            self.instances.clear()
        else:
            self.instances.pop(name, None)
        if seed and self._seeder is not None:
            scratch = self._blank()
            self._seeder(scratch)
            for key, found in scratch.instances.items():
                if name is None or key == name:
                    self.instances[key] = found
