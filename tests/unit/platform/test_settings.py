"""Bad settings: one line per bad variable, naming it and the rule, never its value."""

from __future__ import annotations

import pytest
from pydantic import Field, SecretStr, ValidationError, field_validator

from parley_gateway.config import GatewaySettings
from parley_ingest.config import IngestSettings
from parley_platform.settings import ServiceSettings, format_errors, load_settings
from parley_platform.signed_links import LinkSettings
from parley_responder.config import ResponderSettings

SECRET = "very-secret-value-123"


class Quoting(ServiceSettings):
    """A validator that (wrongly) quotes its input: the formatter still hides it."""

    demo_token: SecretStr = SecretStr("")
    demo_port: int = Field(default=1, ge=1, le=65535)

    @field_validator("demo_token")
    @classmethod
    def _quotes(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value().startswith("very"):
            raise ValueError(f"{value.get_secret_value()} is not accepted")
        return value


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "API_KEY_PEPPER",
        "CREDENTIALS_KEY",
        "LINK_SIGNING_KEY",
        "LOG_LEVEL",
        "KAFKA_TOPIC_PREFIX",
        "OTEL_TRACES_EXPORTER",
        "GATEWAY_PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def errors_of(settings_class: type[ServiceSettings], **values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        settings_class(**values)
    return format_errors("demo", settings_class, caught.value)


def test_one_line_per_bad_variable_naming_it_and_the_rule() -> None:
    lines = errors_of(Quoting, demo_port="notaport", log_level="chatty", kafka_topic_prefix="a b")
    assert len(lines) == 3
    assert lines[0] == (
        "demo: invalid setting LOG_LEVEL: must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG"
    )
    assert lines[1].startswith("demo: invalid setting KAFKA_TOPIC_PREFIX: ")
    assert lines[2].startswith("demo: invalid setting DEMO_PORT: Input should be a valid integer")
    text = "\n".join(lines)
    assert "notaport" not in text and "chatty" not in text and "input_value" not in text


def test_a_value_quoted_by_a_validator_is_hidden() -> None:
    (line,) = errors_of(Quoting, demo_token=SECRET)
    assert line == "demo: invalid setting DEMO_TOKEN: <value hidden> is not accepted"


def test_secrets_never_appear() -> None:
    short_key = "short-key"  # under 16 bytes
    lines = errors_of(GatewaySettings, link_signing_key=short_key, api_key_pepper=SECRET)
    assert lines == [
        "demo: invalid setting LINK_SIGNING_KEY: must be at least 16 bytes "
        "(or empty: no download links)"
    ]
    lines = errors_of(IngestSettings, credentials_key=SECRET)
    assert len(lines) == 1 and lines[0].startswith("demo: invalid setting CREDENTIALS_KEY: must be")
    assert SECRET not in "\n".join(lines) and short_key not in "\n".join(lines)


def test_load_settings_prints_the_lines_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "notaport")
    monkeypatch.setenv("LINK_SIGNING_KEY", "tiny")
    monkeypatch.setenv("API_KEY_PEPPER", SECRET)
    with pytest.raises(SystemExit) as caught:
        load_settings(GatewaySettings)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "gateway: invalid setting LINK_SIGNING_KEY: must be at least 16 bytes "
        "(or empty: no download links)",
        "gateway: invalid setting GATEWAY_PORT: Input should be a valid integer, "
        "unable to parse string as an integer",
    ]


def test_required_secrets_must_be_set_at_start_up_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tests and tools may build settings without them...
    assert GatewaySettings().api_key_pepper.get_secret_value() == ""
    assert ResponderSettings().credentials_key.get_secret_value() == ""
    # ...a service may not start without them.
    with pytest.raises(SystemExit):
        load_settings(ResponderSettings)
    assert capsys.readouterr().err == "responder: invalid setting CREDENTIALS_KEY: must be set\n"
    monkeypatch.setenv("CREDENTIALS_KEY", SECRET)
    with pytest.raises(SystemExit):
        load_settings(IngestSettings)
    err = capsys.readouterr().err
    assert err.startswith("ingest: invalid setting CREDENTIALS_KEY: must be a Fernet key")
    assert SECRET not in err


def test_good_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_PEPPER", SECRET)
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(GatewaySettings)
    assert settings.pepper() == SECRET.encode()
    assert settings.log_level == "DEBUG"


def test_link_settings_check_the_key_at_load() -> None:
    with pytest.raises(ValidationError):
        LinkSettings(link_signing_key="too-short")
    assert LinkSettings(link_signing_key="k" * 16).link_signer() is not None
    assert LinkSettings().link_signer() is None  # empty: links are off
