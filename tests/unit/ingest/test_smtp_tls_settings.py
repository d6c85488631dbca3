"""INGEST_SMTP_TLS_*: STARTTLS's certificate files are checked at load, never at the
first relay's STARTTLS; the error names the variable, never a file's content."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from pydantic import ValidationError

from parley_ingest.bootstrap import smtp_certificate
from parley_ingest.config import IngestSettings
from parley_platform.settings import format_errors


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "INGEST_SMTP_TLS_CERT_FILE",
        "INGEST_SMTP_TLS_KEY_FILE",
        "INGEST_SMTP_REQUIRE_STARTTLS",
        "CREDENTIALS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    cert = trustme.CA().issue_cert("mx.parley.test")
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return cert_file, key_file


def errors_of(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        IngestSettings(**values)
    return format_errors("ingest", IngestSettings, caught.value)


def test_no_files_no_starttls() -> None:
    settings = IngestSettings()
    assert not settings.ingest_smtp_require_starttls
    assert smtp_certificate(settings) is None


def test_a_certificate_and_its_key_offer_starttls(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_SMTP_TLS_CERT_FILE", str(pair[0]))
    monkeypatch.setenv("INGEST_SMTP_TLS_KEY_FILE", str(pair[1]))
    monkeypatch.setenv("INGEST_SMTP_REQUIRE_STARTTLS", "true")
    settings = IngestSettings()
    assert settings.ingest_smtp_require_starttls
    assert smtp_certificate(settings) is not None


def test_one_file_without_the_other_is_refused(pair: tuple[Path, Path]) -> None:
    (line,) = errors_of(ingest_smtp_tls_cert_file=pair[0])
    assert line.startswith("ingest: invalid setting INGEST_SMTP_TLS_KEY_FILE: must be set")
    (line,) = errors_of(ingest_smtp_tls_key_file=pair[1])
    assert line.startswith("ingest: invalid setting INGEST_SMTP_TLS_CERT_FILE: must be set")


def test_starttls_cannot_be_required_without_a_certificate() -> None:
    (line,) = errors_of(ingest_smtp_require_starttls=True)
    assert line.startswith("ingest: invalid setting INGEST_SMTP_REQUIRE_STARTTLS: needs")


def test_a_pair_that_does_not_load_is_refused_at_start(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    other_key = tmp_path / "other.key"
    trustme.CA().issue_cert("x.test").private_key_pem.write_to_path(str(other_key))
    for cert, key in ((pair[0], other_key), (tmp_path / "missing.crt", pair[1])):
        (line,) = errors_of(ingest_smtp_tls_cert_file=cert, ingest_smtp_tls_key_file=key)
        assert line.startswith("ingest: invalid setting INGEST_SMTP_TLS_CERT_FILE: ")
        assert "PRIVATE KEY" not in line and "CERTIFICATE" not in line
