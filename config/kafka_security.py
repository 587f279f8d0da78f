"""How a Kafka client of parkcarbon proves who it is and checks whom it talks to.

One description (``KafkaSecurity``) and one function (``client_kwargs``) serve every client:
the gateway forwarder, the stream worker (through Faust's ``broker_credentials``), the API
producer and consumers, backfill and the admin clients that create topics. The platform settings
(``PARKCARBON_KAFKA_*``, config/settings.py) and the gateway YAML (``kafka:``, ingest/config.py)
validate their values with the checks below, so both refuse the same mistakes with the same words.

Offered protocols: PLAINTEXT (loopback or a closed internal network), SSL (TLS, the broker's
certificate checked against a CA; a client certificate for mutual TLS) and SASL_SSL (TLS plus a
SASL login, SCRAM-SHA-512 or PLAIN). SASL_PLAINTEXT is not offered: it carries readings in clear
text and, with PLAIN, the password too, so on a network where authentication matters it protects
nothing; where the network is trusted, PLAINTEXT without a password is the honest choice.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "PLAIN"]

SASL_PLAINTEXT_REFUSED = (
    "SASL_PLAINTEXT is not offered: it sends readings (and a PLAIN password) in clear text; "
    "use SASL_SSL on an untrusted network, PLAINTEXT on loopback"
)


@dataclass(frozen=True)
class KafkaSecurity:
    """TLS and SASL settings of one Kafka client; the defaults are the loopback broker's."""

    protocol: SecurityProtocol = "PLAINTEXT"
    ca_file: Path | None = None  # None with SSL/SASL_SSL: the system's trusted CAs
    cert_file: Path | None = None  # client certificate (PEM) for mutual TLS
    key_file: Path | None = None  # its private key (PEM, unencrypted: protect it by file mode)
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str = ""
    password: SecretStr = field(default_factory=lambda: SecretStr(""))

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")


def check_protocol(value: object) -> object:
    """Turn SASL_PLAINTEXT into a clear refusal instead of a bare "input should be ..."."""
    if isinstance(value, str) and value.upper() == "SASL_PLAINTEXT":
        raise ValueError(SASL_PLAINTEXT_REFUSED)
    return value


def check_file(path: Path | None) -> Path | None:
    """A CA, certificate or key file must exist and be readable when the config is loaded."""
    if path is None:
        return None
    if not path.is_file():
        raise ValueError(f"file {path} does not exist (or is not a file)")
    try:
        path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    return path


def check(security: KafkaSecurity, *, prefix: str = "") -> None:
    """Refuse combinations that would silently connect with less protection than written.

    ``prefix`` is how the keys are spelled where they were set (``kafka_`` in the platform
    settings, nothing in the gateway's ``kafka:`` section), so messages name the real key.
    """
    tls_keys = {
        f"{prefix}ssl_ca_file": security.ca_file,
        f"{prefix}ssl_cert_file": security.cert_file,
        f"{prefix}ssl_key_file": security.key_file,
    }
    sasl_keys = {
        f"{prefix}sasl_username": security.username,
        f"{prefix}sasl_password": security.password.get_secret_value(),
    }
    if not security.uses_tls:
        given = [k for k, v in {**tls_keys, **sasl_keys}.items() if v]
        if given:
            raise ValueError(
                f"{', '.join(given)} set but {prefix}security_protocol is PLAINTEXT, "
                f"which would ignore them; set {prefix}security_protocol to SSL or SASL_SSL"
            )
        return
    if (security.cert_file is None) != (security.key_file is None):
        raise ValueError(
            f"{prefix}ssl_cert_file and {prefix}ssl_key_file go together (mutual TLS needs both)"
        )
    if security.protocol == "SSL":
        given = [k for k, v in sasl_keys.items() if v]
        if given:
            raise ValueError(
                f"{', '.join(given)} set but {prefix}security_protocol is SSL, which sends no "
                "SASL login; use SASL_SSL"
            )
    else:
        missing = [k for k, v in sasl_keys.items() if not v]
        if missing:
            raise ValueError(f"{prefix}security_protocol SASL_SSL needs {', '.join(missing)}")
    try:
        ssl_context(security)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"the TLS files cannot be used: {exc}") from exc


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    """A client context that verifies the broker's certificate and host name (TLS 1.2+)."""
    # Without a CA file: the system's trusted CAs, as a public-CA-signed broker needs.
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=security.ca_file)
    if security.cert_file is not None:
        context.load_cert_chain(security.cert_file, security.key_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin client)."""
    if not security.uses_tls:
        return {"security_protocol": "PLAINTEXT"}
    kwargs: dict[str, Any] = {
        "security_protocol": security.protocol,
        "ssl_context": ssl_context(security),
    }
    if security.protocol == "SASL_SSL":
        kwargs.update(
            sasl_mechanism=security.sasl_mechanism,
            sasl_plain_username=security.username,
            sasl_plain_password=security.password.get_secret_value(),
        )
    return kwargs


async def connect_failure(bootstrap: str, security: KafkaSecurity, timeout_s: float) -> str:
    """Why one connection to the first bootstrap server fails ("" when it succeeds).

    aiokafka reports a client that could not start as "Unable to bootstrap" and only logs the
    cause; a refused login (SaslAuthenticationFailed) or an untrusted broker certificate
    (CERTIFICATE_VERIFY_FAILED) is what an operator needs to read, so the callers that report
    an uplink failure add this to their message.
    """
    from aiokafka.conn import create_conn

    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    kwargs = client_kwargs(security)
    try:
        conn = await create_conn(
            host, int(port), request_timeout_ms=int(timeout_s * 1000), **kwargs
        )
    except Exception as exc:  # whatever it is, it is the answer
        return f"{type(exc).__name__}: {exc}"
    conn.close()
    return ""


# What an operator should check for the causes connect_failure reports, by the words the
# client libraries use for them (aiokafka's SaslAuthenticationFailed, OpenSSL's verify error).
_CAUSE_HINTS = (
    (
        ("SaslAuthenticationFailed", "Authentication failed"),
        "the broker refused the SASL login: check the Kafka user name, password and mechanism",
    ),
    (
        ("CERTIFICATE_VERIFY_FAILED",),
        "the broker's certificate is not trusted: check the Kafka CA file",
    ),
)


def unreachable(bootstrap: str, error: BaseException, cause: str) -> str:
    """The message for a Kafka client that could not start: the client's own error (aiokafka:
    "Unable to bootstrap from ...") and, when ``connect_failure`` found one, the real cause,
    with what to check for a refused SASL login or an untrusted certificate."""
    message = f"cannot reach Kafka at {bootstrap}: {str(error) or type(error).__name__}"
    if not cause:
        return message
    for words, hint in _CAUSE_HINTS:
        if any(word in cause for word in words):
            return f"{message}; {hint} ({cause})"
    return f"{message}; {cause}"
