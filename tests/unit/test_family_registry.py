"""The family registry: every folder with a ``family`` module is found, a new folder
joins with no other file touched, and a broken or unknown family is named clearly."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from parley_connectors.family import Family
from parley_connectors.registry import (
    IncompleteFamily,
    Registry,
    UnknownFamily,
    buyer_language,
    descriptor,
    discover,
    display_name,
    families,
    load_folder,
)

FAKE = Path(__file__).parents[1] / "support" / "families" / "fake"


def test_every_shipped_family_is_discovered_from_its_folder() -> None:
    assert set(discover()) == {"allegro", "email_relay", "fnac", "mirakl", "rakuten"}


def test_every_shipped_family_is_complete() -> None:
    for found in discover().values():
        assert found.missing() == [], found.name


def test_a_family_serves_its_marketplaces() -> None:
    shipped = discover()
    assert "carrefour" in shipped["mirakl"].marketplaces
    assert shipped["email_relay"].marketplaces == ("amazon", "cdon")


def test_a_folder_outside_the_package_is_a_family(tmp_path: Path) -> None:
    folder = shutil.copytree(FAKE, tmp_path / "fake_copy")
    found = load_folder(folder)
    assert found.name == "fake"
    assert found.rules is not None and found.rules.max_body_length == 50


def test_an_unknown_family_is_named_with_the_known_ones() -> None:
    registry = Registry(discover())
    with pytest.raises(UnknownFamily, match=r"'pigeon-post' is not registered .*mirakl"):
        registry["pigeon-post"]
    assert "pigeon-post" not in registry
    assert registry.get("pigeon-post") is None


def test_an_incomplete_descriptor_names_the_family_and_the_missing_parts() -> None:
    fake = load_folder(FAKE)
    broken = replace(fake, name="halfdone", writer=None, rules=None)
    with pytest.raises(
        IncompleteFamily, match=r"family 'halfdone' .* is incomplete: missing writer, rules"
    ):
        Registry({}).add(broken)


def test_a_family_module_without_a_descriptor_is_refused() -> None:
    import parley_connectors.files as not_a_family

    with pytest.raises(IncompleteFamily, match="declares no FAMILY"):
        descriptor(not_a_family)


def test_the_process_registry_is_discovered_once() -> None:
    assert families() is families()
    assert isinstance(families()["mirakl"], Family)


def test_autoresponder_defaults_are_the_families_declarations() -> None:
    assert buyer_language("allegro") == "pl"
    assert buyer_language("empik") == "pl"  # Mirakl's: from its operator catalogue
    assert display_name("darty") == "Darty"  # Darty's marketplace runs on Fnac's API
    assert buyer_language("pigeon-post") is None and display_name("pigeon-post") is None


def test_discovery_stops_at_an_incomplete_folder_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "somefamilies"
    (package / "half").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "half" / "__init__.py").write_text("")
    (package / "half" / "family.py").write_text(
        "from parley_connectors.family import Family\n"
        "FAMILY = Family(name='half', marketplaces=('halfmart',), reader=None,"
        " writer=None, rules=None, attachments=None)\n"
    )
    (package / "no_family_here").mkdir()
    (package / "no_family_here" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    import somefamilies  # type: ignore[import-not-found]

    with pytest.raises(
        IncompleteFamily,
        match=r"^marketplace family 'half' \(somefamilies\.half\.family\) is incomplete: "
        r"missing reader, writer, rules, attachments$",
    ):
        discover(somefamilies)
