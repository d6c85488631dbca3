"""Download links: only an untouched link within its life gives the file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from parley_platform.signed_links import (
    LinkExpired,
    LinkInvalid,
    LinkSettings,
    LinkSigner,
    download_url,
)

KEY = b"a-signing-key-of-enough-bytes"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FILE = "665f1c2e9b1e8a0012345678"


def test_a_signed_link_gives_its_file_until_it_expires() -> None:
    signer = LinkSigner(KEY)
    token = signer.sign(FILE, NOW + timedelta(days=7))
    assert signer.verify(token, NOW) == FILE
    assert signer.verify(token, NOW + timedelta(days=7) - timedelta(seconds=1)) == FILE
    with pytest.raises(LinkExpired):
        signer.verify(token, NOW + timedelta(days=7))


def test_the_same_link_is_signed_the_same_way() -> None:
    expires = NOW + timedelta(hours=1)
    assert LinkSigner(KEY).sign(FILE, expires) == LinkSigner(KEY).sign(FILE, expires)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(FILE, "665f1c2e9b1e8a0012345679"),  # another file
        lambda t: t.replace(".", ".9", 1),  # a longer life
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # another signature
        lambda t: t + "x",
        lambda t: "",
        lambda t: "../../etc/passwd",
    ],
)
def test_a_tampered_link_is_invalid(tamper: object) -> None:
    signer = LinkSigner(KEY)
    token = signer.sign(FILE, NOW + timedelta(days=1))
    assert callable(tamper)
    with pytest.raises(LinkInvalid):
        signer.verify(tamper(token), NOW)


def test_a_link_signed_with_another_key_is_invalid_even_when_expired() -> None:
    token = LinkSigner(b"another-key-of-enough-bytes").sign(FILE, NOW - timedelta(days=1))
    with pytest.raises(LinkInvalid):  # the signature is checked before the expiry
        LinkSigner(KEY).verify(token, NOW)


def test_short_keys_and_odd_file_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        LinkSigner(b"short")
    with pytest.raises(ValueError):
        LinkSigner(KEY).sign("a.b", NOW)


def test_settings_give_a_signer_only_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINK_SIGNING_KEY", raising=False)
    assert LinkSettings().link_signer() is None
    assert LinkSettings().link_ttl_seconds == 7 * 24 * 3600
    monkeypatch.setenv("LINK_SIGNING_KEY", KEY.decode())
    monkeypatch.setenv("LINK_TTL_SECONDS", "30")
    settings = LinkSettings()
    assert settings.link_signer() == LinkSigner(KEY)
    assert settings.link_ttl_seconds == 30
    assert KEY.decode() not in repr(settings)


def test_the_url_points_at_the_gateway_links_route() -> None:
    assert download_url("https://parley.example/", "tok") == "https://parley.example/links/tok"
