"""A Kafka client that cannot start says why: aiokafka's "Unable to bootstrap" plus the cause
``connect_failure`` found, with what an operator should check (a refused SASL login, an
untrusted broker certificate). The API's 503 and ``parkcarbon backfill`` both use it."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError

from config.kafka_security import unreachable

BOOTSTRAP = "kafka.example:9093"
BOOTSTRAP_ERROR = KafkaConnectionError(f"Unable to bootstrap from [('{BOOTSTRAP}', 9093)]")


def test_a_refused_sasl_login_is_named_with_what_to_check() -> None:
    cause = (
        "SaslAuthenticationFailed: [Error 58] SaslAuthenticationFailed: Authentication failed"
        " during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
    )

    message = unreachable(BOOTSTRAP, BOOTSTRAP_ERROR, cause)

    assert message.startswith(f"cannot reach Kafka at {BOOTSTRAP}: ")
    assert "Unable to bootstrap" in message
    assert "the broker refused the SASL login" in message
    assert "user name, password and mechanism" in message
    assert message.endswith(f"({cause})")


def test_an_untrusted_certificate_is_named_with_what_to_check() -> None:
    cause = (
        "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:"
        " unable to get local issuer certificate (_ssl.c:1000)"
    )

    message = unreachable(BOOTSTRAP, BOOTSTRAP_ERROR, cause)

    assert "the broker's certificate is not trusted: check the Kafka CA file" in message
    assert cause in message


def test_another_cause_is_passed_on_as_it_is() -> None:
    cause = "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)"

    message = unreachable(BOOTSTRAP, BOOTSTRAP_ERROR, cause)

    assert message == f"cannot reach Kafka at {BOOTSTRAP}: {BOOTSTRAP_ERROR}; {cause}"


def test_without_a_cause_the_client_error_alone_and_never_an_empty_one() -> None:
    assert unreachable(BOOTSTRAP, BOOTSTRAP_ERROR, "") == (
        f"cannot reach Kafka at {BOOTSTRAP}: {BOOTSTRAP_ERROR}"
    )
    assert unreachable(BOOTSTRAP, TimeoutError(), "") == (
        f"cannot reach Kafka at {BOOTSTRAP}: TimeoutError"
    )
