"""Kafka transport security and secret files, as a deployment sets them.

A bad combination fails when the settings load (exit 2 through ``load_settings``), in
one line naming the variable and never quoting a secret; good settings become the
same aiokafka options and Faust credentials for every client.
"""

from __future__ import annotations

import ssl
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faust
import pytest
import trustme
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError
from support.secure_kafka import pkcs8_key

from parley_platform import healthcheck, topics_admin
from parley_platform.kafka_security import (
    KafkaSecurity,
    faust_broker_credentials,
    kafka_client_options,
)
from parley_platform.settings import ServiceSettings, format_errors, load_settings
from parley_platform.streams import create_app

PASSWORD = "sasl-password-never-shown-4f1d"
KEY_PASSWORD = "key-password-never-shown-2c7a"
URI = "mongodb://parley:uri-password-never-shown@db.example:27017/?tls=true"
SECRETS = (PASSWORD, KEY_PASSWORD, URI, "uri-password-never-shown")
VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SASL_PASSWORD_FILE",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "KAFKA_SSL_KEY_PASSWORD",
    "KAFKA_SSL_KEY_PASSWORD_FILE",
    "KAFKA_SSL_CHECK_HOSTNAME",
    "MONGODB_URI",
    "MONGODB_URI_FILE",
    "PARLEY_DATA_DIR",
)


@dataclass(frozen=True)
class Pems:
    ca: Path
    cert: Path
    key: Path  # encrypted with KEY_PASSWORD
    plain_key: Path
    not_pem: Path


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    where = tmp_path_factory.mktemp("pems")
    ca = trustme.CA()
    client = ca.issue_cert("client.test")
    made = Pems(
        where / "ca.pem", where / "c.pem", where / "c.key", where / "p.key", where / "x.pem"
    )
    made.ca.write_bytes(ca.cert_pem.bytes())
    made.cert.write_bytes(client.cert_chain_pems[0].bytes())
    made.key.write_bytes(pkcs8_key(client.private_key_pem.bytes(), KEY_PASSWORD))
    made.plain_key.write_bytes(pkcs8_key(client.private_key_pem.bytes()))
    made.not_pem.write_text("not a certificate\n")
    return made


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield


def secret_file(tmp_path: Path, value: str) -> str:
    path = tmp_path / f"secret-{len(list(tmp_path.iterdir()))}"
    path.write_text(value + "\n")  # as Kubernetes and Docker mount them
    return str(path)


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> ServiceSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ServiceSettings()


def refused(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        load(monkeypatch, **env)
    lines = format_errors("demo", ServiceSettings, caught.value)
    for secret in SECRETS:
        assert secret not in "\n".join(lines)
    return lines


def sasl_ssl(**extra: str) -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "parley",
        **extra,
    }


# ------------------------------------------------------------------ defaults


def test_plaintext_by_default_with_the_data_dir_under_the_temporary_directory() -> None:
    settings = ServiceSettings()
    security = KafkaSecurity.of(settings)
    assert kafka_client_options(security) == {"security_protocol": "PLAINTEXT"}
    assert faust_broker_credentials(security) is None
    assert settings.data_dir.parent == Path(tempfile.gettempdir())
    assert settings.data_dir.name.startswith("parley-")


def test_the_data_dir_comes_from_parley_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load(monkeypatch, PARLEY_DATA_DIR=str(tmp_path)).data_dir == tmp_path


# ------------------------------------------------------------------ secret files


def test_secrets_come_from_files_without_their_trailing_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pems: Pems
) -> None:
    settings = load(
        monkeypatch,
        **sasl_ssl(KAFKA_SASL_PASSWORD_FILE=secret_file(tmp_path, PASSWORD)),
        KAFKA_SSL_CAFILE=str(pems.ca),
        KAFKA_SSL_CERTFILE=str(pems.cert),
        KAFKA_SSL_KEYFILE=str(pems.key),
        KAFKA_SSL_KEY_PASSWORD_FILE=secret_file(tmp_path, KEY_PASSWORD),
        MONGODB_URI_FILE=secret_file(tmp_path, URI),
    )
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == PASSWORD
    assert settings.kafka_ssl_key_password is not None
    assert settings.kafka_ssl_key_password.get_secret_value() == KEY_PASSWORD
    assert settings.mongodb_uri.get_secret_value() == URI
    assert PASSWORD not in repr(settings) and KEY_PASSWORD not in repr(KafkaSecurity.of(settings))


@pytest.mark.parametrize(
    ("variable", "value"),
    [("KAFKA_SASL_PASSWORD", PASSWORD), ("MONGODB_URI", URI)],
)
def test_a_variable_and_its_file_both_set_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    env = sasl_ssl() if variable.startswith("KAFKA") else {}
    env |= {variable: value, f"{variable}_FILE": secret_file(tmp_path, value)}
    assert refused(monkeypatch, **env) == [
        f"demo: invalid setting {variable}_FILE: {variable} is set too: set only one of them"
    ]


@pytest.mark.parametrize("name", ["missing", "a-directory"])
def test_a_secret_file_that_cannot_be_read_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    (tmp_path / "a-directory").mkdir()
    assert refused(monkeypatch, MONGODB_URI_FILE=str(tmp_path / name)) == [
        "demo: invalid setting MONGODB_URI_FILE: no such file"
    ]


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load(
        monkeypatch,
        MONGODB_URI="",
        MONGODB_URI_FILE=secret_file(tmp_path, URI),
        KAFKA_SSL_CAFILE="",
    )
    assert settings.mongodb_uri.get_secret_value() == URI
    assert settings.kafka_ssl_cafile is None


# ------------------------------------------------------------------ combinations


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "KAFKA_SASL_MECHANISM: must be set when KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN"},
            "KAFKA_SASL_USERNAME: must be set when KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
        ),
        (
            sasl_ssl(),
            "KAFKA_SASL_PASSWORD: must be set when KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        ),
        (
            {"KAFKA_SASL_USERNAME": "parley", "KAFKA_SASL_PASSWORD": PASSWORD},
            "KAFKA_SASL_USERNAME: is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses no SASL",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "TLS"},
            "KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' "
            "or 'SASL_SSL'",
        ),
    ],
)
def test_sasl_combinations_are_checked_at_load(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    assert refused(monkeypatch, **env) == [f"demo: invalid setting {line}"]


def test_tls_files_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lines = refused(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SSL",
        KAFKA_SSL_CAFILE=str(tmp_path / "ca.pem"),
        KAFKA_SSL_CERTFILE=str(tmp_path / "client.pem"),
    )
    assert lines == [
        "demo: invalid setting KAFKA_SSL_CAFILE: no such file",
        "demo: invalid setting KAFKA_SSL_CERTFILE: no such file",
    ]


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"KAFKA_SSL_CAFILE": "ca"},
            "KAFKA_SSL_CAFILE: is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses no TLS",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": "key"},
            "KAFKA_SSL_CERTFILE: must be set with KAFKA_SSL_KEYFILE",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD},
            "KAFKA_SSL_KEY_PASSWORD: is set but no KAFKA_SSL_CERTFILE",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "not_pem"},
            "KAFKA_SSL_CAFILE: holds no PEM certificate",
        ),
    ],
)
def test_tls_combinations_are_checked_at_load(
    monkeypatch: pytest.MonkeyPatch, pems: Pems, env: dict[str, str], line: str
) -> None:
    files = {"ca": pems.ca, "key": pems.key, "not_pem": pems.not_pem}
    env = {k: str(files.get(v, v)) for k, v in env.items()}
    assert refused(monkeypatch, **env) == [f"demo: invalid setting {line}"]


@pytest.mark.parametrize("key_password", ["wrong-key-password", None])
def test_a_key_that_does_not_load_is_refused_at_start_never_prompted_for(
    monkeypatch: pytest.MonkeyPatch, pems: Pems, key_password: str | None
) -> None:
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CERTFILE": str(pems.cert),
        "KAFKA_SSL_KEYFILE": str(pems.key),
    }
    if key_password:
        env["KAFKA_SSL_KEY_PASSWORD"] = key_password
    lines = refused(monkeypatch, **env)
    assert len(lines) == 1
    assert lines[0].startswith("demo: invalid setting KAFKA_SSL_CERTFILE: the certificate and")
    assert "wrong-key-password" not in lines[0]


def test_load_settings_exits_2_with_one_line_and_no_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", secret_file(tmp_path, PASSWORD))
    for name, value in sasl_ssl().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        load_settings(ServiceSettings, "demo")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "demo: invalid setting KAFKA_SASL_PASSWORD_FILE: "
        "KAFKA_SASL_PASSWORD is set too: set only one of them"
    ]
    assert PASSWORD not in err


@pytest.mark.parametrize("command", ["topics", "healthcheck"])
def test_the_commands_refuse_bad_settings_like_a_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setattr(sys, "argv", ["healthcheck", "--kafka", "127.0.0.1:1"])
    with pytest.raises(SystemExit) as exited:
        topics_admin.main(["127.0.0.1:1"]) if command == "topics" else healthcheck.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith(
        f"{command}: invalid setting KAFKA_SASL_MECHANISM: must be set"
    )


# ------------------------------------------------------------------ client options


def test_sasl_ssl_options_for_aiokafka_and_faust(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pems: Pems
) -> None:
    security = KafkaSecurity.of(
        load(
            monkeypatch,
            **sasl_ssl(KAFKA_SASL_PASSWORD_FILE=secret_file(tmp_path, PASSWORD)),
            KAFKA_SSL_CAFILE=str(pems.ca),
        )
    )
    options = kafka_client_options(security)
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "parley",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert kafka_client_options(security)["ssl_context"] is context  # made once

    credentials = faust_broker_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_512
    assert credentials.ssl_context is context
    assert PASSWORD not in repr(credentials)


def test_sasl_plaintext_has_no_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    security = KafkaSecurity.of(
        load(
            monkeypatch,
            KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
            KAFKA_SASL_MECHANISM="PLAIN",
            KAFKA_SASL_USERNAME="parley",
            KAFKA_SASL_PASSWORD=PASSWORD,
        )
    )
    assert "ssl_context" not in kafka_client_options(security)
    credentials = faust_broker_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_PLAINTEXT
    assert credentials.ssl_context is None


def test_mutual_tls_options_with_an_encrypted_key(
    monkeypatch: pytest.MonkeyPatch, pems: Pems
) -> None:
    security = KafkaSecurity.of(
        load(
            monkeypatch,
            KAFKA_SECURITY_PROTOCOL="SSL",
            KAFKA_SSL_CAFILE=str(pems.ca),
            KAFKA_SSL_CERTFILE=str(pems.cert),
            KAFKA_SSL_KEYFILE=str(pems.key),
            KAFKA_SSL_KEY_PASSWORD=KEY_PASSWORD,
            KAFKA_SSL_CHECK_HOSTNAME="false",
        )
    )
    options = kafka_client_options(security)
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options
    assert options["ssl_context"].check_hostname is False
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED  # the chain still is
    credentials = faust_broker_credentials(security)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context is options["ssl_context"]


def test_an_unencrypted_key_needs_no_password(monkeypatch: pytest.MonkeyPatch, pems: Pems) -> None:
    settings = load(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SSL",
        KAFKA_SSL_CERTFILE=str(pems.cert),
        KAFKA_SSL_KEYFILE=str(pems.plain_key),
    )
    assert KafkaSecurity.of(settings).ssl_context is not None


# ------------------------------------------------------------------ Faust app


def test_a_faust_app_keeps_its_data_under_the_data_dir(tmp_path: Path, pems: Pems) -> None:
    settings = ServiceSettings(
        data_dir=tmp_path / "state",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pems.ca,
    )
    app = create_app("demo-app", settings, web_port=1)
    assert Path(app.conf.datadir) == tmp_path / "state" / "demo-app"
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "demo-app").stat().st_mode) == 0o700
    assert isinstance(app.conf.broker_credentials, faust.SSLCredentials)


def test_an_unusable_data_dir_stops_the_worker_like_a_bad_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")
    settings = ServiceSettings(data_dir=tmp_path / "a-file" / "below")
    with pytest.raises(SystemExit) as exited:
        create_app("demo-app", settings, web_port=1)
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("demo-app: invalid setting PARLEY_DATA_DIR: ")
