"""The one registry of marketplace families, discovered from their folders.

Every subpackage of :mod:`parley_connectors` that has a ``family`` module declaring
``FAMILY = Family(...)`` is a family; nothing lists them, so a new family is one new
folder and no other production file. A folder elsewhere (a test's fake family, a
family shipped apart) joins with :func:`add_folder`.

Discovery checks each descriptor: a family missing its reader, writer, rules or
attachment policy raises :class:`IncompleteFamily` naming the family and the parts,
so the service that loads the registry at start-up stops with that one line. Asking
for a family nobody declared raises :class:`UnknownFamily` (a clear error, never a
``KeyError``).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import parley_connectors
from parley_connectors.family import Family

FAMILY_MODULE = "family"
_ADDED_PREFIX = "parley_family_"


class UnknownFamily(KeyError):
    """A connection or reply names a family no folder declares (a ``KeyError``, so
    ``in`` and ``.get`` on the registry work, with a readable message)."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.message = f"marketplace family {name!r} is not registered (known: {', '.join(known)})"
        super().__init__(self.message)
        self.name = name

    def __str__(self) -> str:
        return self.message


class IncompleteFamily(RuntimeError):
    """A family folder whose descriptor lacks a part the services need."""


class Registry(Mapping[str, Family]):
    """The discovered families by name (read-only; :func:`add_folder` adds one)."""

    def __init__(self, families: Mapping[str, Family]) -> None:
        self._families = dict(families)

    def __getitem__(self, name: str) -> Family:
        try:
            return self._families[name]
        except KeyError:
            raise UnknownFamily(name, sorted(self._families)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._families)

    def __len__(self) -> int:
        return len(self._families)

    def add(self, family: Family) -> None:
        _check(family, origin=family.name)
        self._families[family.name] = family


def descriptor(module: ModuleType) -> Family:
    """The checked ``FAMILY`` of a family module."""
    family = getattr(module, "FAMILY", None)
    if not isinstance(family, Family):
        raise IncompleteFamily(f"{module.__name__} declares no FAMILY = Family(...)")
    _check(family, origin=module.__name__)
    return family


def _check(family: Family, origin: str) -> None:
    missing = family.missing()
    if missing:
        raise IncompleteFamily(
            f"marketplace family {family.name!r} ({origin}) is incomplete: "
            f"missing {', '.join(missing)}"
        )


def discover(package: ModuleType = parley_connectors) -> dict[str, Family]:
    """The families of ``package``'s subpackages that have a ``family`` module."""
    found: dict[str, Family] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        name = f"{package.__name__}.{info.name}.{FAMILY_MODULE}"
        if importlib.util.find_spec(name) is None:
            continue
        family = descriptor(importlib.import_module(name))
        found[family.name] = family
    return found


def load_folder(folder: Path) -> Family:
    """Imports a family folder found outside :mod:`parley_connectors` as a package
    (its modules may import each other relatively) and returns its checked FAMILY."""
    package = _ADDED_PREFIX + folder.name
    if package not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise IncompleteFamily(f"{folder} is not a family folder (no __init__.py)")
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
    return descriptor(importlib.import_module(f"{package}.{FAMILY_MODULE}"))


_registry: Registry | None = None


def families() -> Registry:
    """The process's registry, discovered on first use (services call it at start-up,
    so an incomplete family stops them there)."""
    global _registry
    if _registry is None:
        _registry = Registry(discover())
    return _registry


def family(name: str) -> Family:
    """The family of that name; :class:`UnknownFamily` when none is declared."""
    return families()[name]


def add_folder(folder: Path) -> Family:
    """Adds a family folder from outside the package to the process's registry."""
    added = load_folder(folder)
    families().add(added)
    return added


def buyer_language(marketplace: str) -> str | None:
    """The buyers' language the family serving that marketplace id declares, if any."""
    for found in families().values():
        if marketplace in found.languages:
            return found.languages[marketplace]
    return None


def display_name(marketplace: str) -> str | None:
    """The marketplace's name as its family shows it to buyers, if declared."""
    for found in families().values():
        if marketplace in found.display_names:
            return found.display_names[marketplace]
    return None
