"""``parley connections add --family mirakl``: the base URL comes from the operator catalogue.

No database here: every path below either resolves the URL without one or stops
before the CLI connects (``connect`` is replaced by a tripwire).
"""

from __future__ import annotations

import pytest

from parley_cli.main import main
from parley_connectors.mirakl.catalogue import instance
from parley_ingest import activation
from parley_ingest.activation import base_url_for
from parley_platform.crypto import CredentialCipher


def test_catalogue_supplies_the_base_url_and_asks_for_confirmation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = base_url_for("mirakl", "decathlon", None)

    assert url == instance("decathlon").base_url == "https://marketplace-decathlon-eu.mirakl.net"
    assert "onboarding pack" in capsys.readouterr().err


def test_explicit_base_url_wins_even_for_ids_outside_the_catalogue() -> None:
    sandbox = "http://127.0.0.1:8900/mirakl/sandbox-shop"

    assert base_url_for("mirakl", "sandbox-shop", sandbox) == sandbox
    assert base_url_for("mirakl", "decathlon", sandbox) == sandbox


def test_unknown_marketplace_without_base_url_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"unknown Mirakl operator instance 'pigeon'.*--base-url"):
        base_url_for("mirakl", "pigeon", None)


def test_operator_without_a_known_url_needs_an_explicit_one() -> None:
    with pytest.raises(SystemExit, match=r"no known API URL for Conforama.*--base-url"):
        base_url_for("mirakl", "conforama", None)


def test_operator_whose_messages_left_mirakl_points_to_its_family() -> None:
    with pytest.raises(SystemExit, match="--family fnac"):
        base_url_for("mirakl", "darty", None)


def run_cli(monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    def no_database(*_: object, **__: object) -> None:
        raise AssertionError("the CLI must refuse before connecting to the database")

    monkeypatch.setattr(activation, "connect", no_database)
    monkeypatch.setenv("TEST_MIRAKL_KEY", "not-a-real-key")
    monkeypatch.setenv("CREDENTIALS_KEY", CredentialCipher.generate_key())
    argv = ["connections", "add", "--id", "c1", "--store", "s1"]
    argv += ["--family", "mirakl", "--api-key-env", "TEST_MIRAKL_KEY", *extra]
    main(argv)


def test_cli_refuses_an_unknown_marketplace_before_touching_the_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_cli(monkeypatch, "--marketplace", "mediamark")
    assert stopped.value.code == 1
    assert "unknown Mirakl operator instance 'mediamark'" in capsys.readouterr().err


def test_cli_refuses_fnac_on_the_mirakl_family(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_cli(monkeypatch, "--marketplace", "fnac")
    assert stopped.value.code == 1
    assert "--family fnac" in capsys.readouterr().err
