"""The gateway's ``kafka:`` section with TLS and SASL: accepted when complete, refused with the
file, key path and line when a file is missing or the combination would protect less than
written (config/kafka_security.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from config.kafka_security import client_kwargs
from config.settings import ConfigError
from deploy.kafka_tls import Issued, issue, make_ca
from ingest.config import load_gateway_config

SECURE = """\
gateway_id: gw-sub-7
kafka:
  bootstrap: kafka.park.example:9094
  security_protocol: SASL_SSL
  ssl_ca_file: {ca}
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: gw-sub-7
  sasl_password: "s3cret-from-the-operator"
buffer:
  path: {buffer}
"""


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return make_ca(tmp_path_factory.mktemp("ca"))


def _load(tmp_path: Path, ca: Issued, old: str = "", new: str = "") -> Path:
    text = SECURE.format(ca=ca.cert, buffer=tmp_path / "b.db")
    assert old in text
    path = tmp_path / "gateway.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_sasl_ssl_section_gives_the_forwarder_a_verifying_tls_context_and_a_scram_login(
    tmp_path: Path, ca: Issued
) -> None:
    config = load_gateway_config(_load(tmp_path, ca))
    kwargs = client_kwargs(config.kafka.security())
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "gw-sub-7",
        "sasl_plain_password": "s3cret-from-the-operator",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # The password is a secret: it never shows in a repr or a log line of the config.
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.kafka)


def test_mutual_tls_takes_a_client_certificate_and_its_key(tmp_path: Path, ca: Issued) -> None:
    client = issue(ca, tmp_path, "gw-sub-7", hosts=[], server=False)
    path = _load(
        tmp_path,
        ca,
        "  sasl_mechanism: SCRAM-SHA-512\n",
        f"  ssl_cert_file: {client.cert}\n  ssl_key_file: {client.key}\n",
    )
    security = load_gateway_config(path).kafka.security()
    assert (security.cert_file, security.key_file) == (client.cert, client.key)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "ssl_ca_file: ",
            "ssl_ca_file: /nonexistent/park-ca.pem  #",
            r"kafka\.ssl_ca_file \(line 5\): Value error, file /nonexistent/park-ca\.pem "
            r"does not exist",
        ),
        (
            "security_protocol: SASL_SSL",
            "security_protocol: SASL_PLAINTEXT",
            r"kafka\.security_protocol \(line 4\): Value error, SASL_PLAINTEXT is not offered: "
            r"it sends readings .* in clear text",
        ),
        (
            "security_protocol: SASL_SSL",
            "security_protocol: TLS",
            r"kafka\.security_protocol \(line 4\): Input should be 'PLAINTEXT', 'SSL' or "
            r"'SASL_SSL'",
        ),
        (
            "sasl_mechanism: SCRAM-SHA-512",
            "sasl_mechanism: SCRAM-SHA-1",
            r"kafka\.sasl_mechanism \(line 6\): Input should be 'SCRAM-SHA-512' or 'PLAIN'",
        ),
        (
            '  sasl_password: "s3cret-from-the-operator"\n',
            "",
            r"kafka \(line 3\): Value error, security_protocol SASL_SSL needs sasl_password",
        ),
        (
            "security_protocol: SASL_SSL",
            "security_protocol: PLAINTEXT",
            r"kafka \(line 3\): Value error, ssl_ca_file, sasl_username, sasl_password set but "
            r"security_protocol is PLAINTEXT, which would ignore them",
        ),
        (
            "security_protocol: SASL_SSL",
            "security_protocol: SSL",
            r"sasl_username, sasl_password set but security_protocol is SSL, which sends no "
            r"SASL login",
        ),
        # A typo in a key is refused like any unknown key.
        ("sasl_username: gw", "sasl_usernme: gw", r"kafka\.sasl_usernme \(line 7\): Extra inputs"),
    ],
)
def test_a_bad_security_section_names_the_key_and_its_line(
    tmp_path: Path, ca: Issued, old: str, new: str, expected: str
) -> None:
    path = _load(tmp_path, ca, old, new)
    with pytest.raises(ConfigError, match=expected) as info:
        load_gateway_config(path)
    assert str(path) in str(info.value)
    assert "s3cret" not in str(info.value)


def test_a_certificate_without_its_key_is_refused(tmp_path: Path, ca: Issued) -> None:
    client = issue(ca, tmp_path, "gw-sub-7", hosts=[], server=False)
    path = _load(
        tmp_path, ca, "  sasl_mechanism:", f"  ssl_cert_file: {client.cert}\n  sasl_mechanism:"
    )
    with pytest.raises(ConfigError, match="ssl_cert_file and ssl_key_file go together"):
        load_gateway_config(path)


def test_a_file_that_is_not_a_certificate_is_refused_when_loading(
    tmp_path: Path, ca: Issued
) -> None:
    bogus = tmp_path / "not-a-ca.pem"
    bogus.write_text("this is not PEM\n")
    path = _load(tmp_path, ca, f"ssl_ca_file: {ca.cert}", f"ssl_ca_file: {bogus}")
    with pytest.raises(ConfigError, match=r"kafka \(line 3\): Value error, the TLS files cannot"):
        load_gateway_config(path)
