"""The web inbox's language catalogues (EN, FR, ES, PL, DE): each has exactly the
English keys, no empty text, the same {placeholders}, and every key the modules use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[3] / "services" / "gateway" / "web"
LANGUAGES = ("en", "fr", "es", "pl", "de")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# A literal 'namespace.key' in a module, for the namespaces of the catalogue.
USED_KEY = re.compile(r"['\"]((?:[a-z]+)\.[A-Za-z_]+)['\"]")


def catalogue(language: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((WEB / "i18n" / f"{language}.json").read_text("utf-8"))
    return loaded


def test_the_languages_are_the_ones_offered() -> None:
    assert sorted(p.stem for p in (WEB / "i18n").glob("*.json")) == sorted(LANGUAGES)
    picker = (WEB / "app" / "i18n.js").read_text("utf-8")
    assert f"export const LANGUAGES = {json.dumps(list(LANGUAGES))};".replace('"', "'") in picker


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_each_catalogue_has_exactly_the_english_keys(language: str) -> None:
    english, other = catalogue("en"), catalogue(language)
    assert sorted(other) == sorted(english)
    assert [k for k, text in other.items() if not text.strip()] == []
    different = {
        key: (PLACEHOLDER.findall(english[key]), PLACEHOLDER.findall(text))
        for key, text in other.items()
        if set(PLACEHOLDER.findall(english[key])) != set(PLACEHOLDER.findall(text))
    }
    assert different == {}


def test_every_key_the_modules_use_is_in_english() -> None:
    english = catalogue("en")
    namespaces = {key.split(".")[0] for key in english}
    used = {
        key
        for module in [*(WEB / "app").rglob("*.js"), WEB / "index.html"]
        for key in USED_KEY.findall(module.read_text("utf-8"))
        if key.split(".")[0] in namespaces
    }
    assert used, "no key found: the pattern no longer matches the modules"
    assert sorted(used - english.keys()) == []
