"""Kafka TLS/SASL in the platform settings (``PARKCARBON_KAFKA_*``), what every aiokafka client
is built with, and what the Faust worker hands to aiokafka (config/kafka_security.py)."""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from config.kafka_security import KafkaSecurity, client_kwargs
from config.settings import CommonSettings, ConfigError, StackSettings, WorkerSettings, load
from deploy import kafka_broker, kafka_tls
from stream.app import broker_credentials


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PARKCARBON_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> kafka_tls.Issued:
    return kafka_tls.make_ca(tmp_path_factory.mktemp("ca"))


def _sasl_ssl_env(monkeypatch: pytest.MonkeyPatch, ca: kafka_tls.Issued) -> None:
    monkeypatch.setenv("PARKCARBON_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PARKCARBON_KAFKA_SSL_CA_FILE", str(ca.cert))
    monkeypatch.setenv("PARKCARBON_KAFKA_SASL_USERNAME", "parkcarbon-worker")
    monkeypatch.setenv("PARKCARBON_KAFKA_SASL_PASSWORD", "pw-from-a-secret-store")


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol() -> None:
    settings = load(CommonSettings)
    assert client_kwargs(settings.kafka_security()) == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(settings.kafka_security()) is None


def test_sasl_ssl_from_the_environment_reaches_the_client_arguments(
    monkeypatch: pytest.MonkeyPatch, ca: kafka_tls.Issued
) -> None:
    _sasl_ssl_env(monkeypatch, ca)
    settings = load(WorkerSettings)
    kwargs = client_kwargs(settings.kafka_security())
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "parkcarbon-worker",
        "sasl_plain_password": "pw-from-a-secret-store",
    }
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert "pw-from-a-secret-store" not in repr(settings)


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_the_worker_gives_faust_what_every_other_client_gets(
    ca: kafka_tls.Issued, protocol: str
) -> None:
    security = KafkaSecurity(
        protocol="SASL_SSL" if protocol == "SASL_SSL" else "SSL",
        ca_file=ca.cert,
        username="w" if protocol == "SASL_SSL" else "",
        password=SecretStr("p" if protocol == "SASL_SSL" else ""),
    )
    # faust-streaming 0.15.3 builds its consumer, producer and topic-creating client with
    # credentials_to_aiokafka_auth(broker_credentials): it must equal client_kwargs.
    faust_kwargs = dict(credentials_to_aiokafka_auth(broker_credentials(security)))
    ours = client_kwargs(security)
    assert isinstance(faust_kwargs.pop("ssl_context"), ssl.SSLContext)
    ours.pop("ssl_context")
    assert faust_kwargs == ours


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"PARKCARBON_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
            r"kafka_security_protocol: Value error, SASL_PLAINTEXT is not offered",
        ),
        (
            {"PARKCARBON_KAFKA_SSL_CA_FILE": "/nonexistent/ca.pem"},
            r"kafka_ssl_ca_file: Value error, file /nonexistent/ca\.pem does not exist",
        ),
        (
            {"PARKCARBON_KAFKA_SASL_PASSWORD": ""},
            r"kafka_security_protocol SASL_SSL needs kafka_sasl_password",
        ),
        (
            {"PARKCARBON_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
            r"kafka_ssl_ca_file, kafka_sasl_username, kafka_sasl_password set but "
            r"kafka_security_protocol is PLAINTEXT",
        ),
    ],
)
def test_a_bad_security_setting_is_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, ca: kafka_tls.Issued, env: dict[str, str], expected: str
) -> None:
    _sasl_ssl_env(monkeypatch, ca)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected) as info:
        load(WorkerSettings)
    assert "pw-from-a-secret-store" not in str(info.value)


def test_the_yaml_file_may_hold_the_security_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ca: kafka_tls.Issued
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(f"kafka_security_protocol: SSL\nkafka_ssl_ca_file: {ca.cert}\n")
    monkeypatch.setenv("PARKCARBON_CONFIG_FILE", str(path))
    security = load(CommonSettings).kafka_security()
    assert (security.protocol, security.ca_file) == ("SSL", ca.cert)


def test_the_local_broker_has_no_authorizer_without_the_sasl_ssl_listener(
    tmp_path: Path,
) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_sasl_ssl_port=0)
    paths = kafka_broker.KafkaPaths.under(tmp_path, settings.kafka_version)
    paths.root.mkdir(parents=True)
    kafka_broker.write_properties(settings, paths)
    text = paths.properties.read_text()
    assert "SASL_SSL" not in text and "authorizer" not in text


def test_the_sasl_ssl_listener_authorizes_and_keeps_the_loopback_principal_super(
    tmp_path: Path,
) -> None:
    settings = StackSettings(
        state_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_sasl_ssl_port=19094
    )
    paths = kafka_broker.KafkaPaths.under(tmp_path, settings.kafka_version)
    paths.root.mkdir(parents=True)
    kafka_broker.prepare_tls(settings, paths)
    kafka_broker.write_properties(settings, paths)
    props = dict(
        line.split("=", 1) for line in paths.properties.read_text().splitlines() if "=" in line
    )
    assert props["listeners"].endswith(",SASL_SSL://127.0.0.1:19094")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert props["super.users"].split(";")[0] == "User:ANONYMOUS"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    # The broker's certificate is the project CA's and names the address clients dial.
    cert = x509.load_pem_x509_certificate((paths.security / "broker.pem").read_bytes())
    ca_cert = x509.load_pem_x509_certificate(paths.ca.cert.read_bytes())
    cert.verify_directly_issued_by(ca_cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    # Private keys and passwords are readable by their owner only.
    assert paths.keystore.stat().st_mode & 0o077 == 0
    assert paths.users.stat().st_mode & 0o077 == 0
