"""Standard Webhooks signing, secrets, retry delays and target checks, without a server.

The vectors: the one the Standard Webhooks Python library tests with
(standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
``test_sign_function``), and one computed here with ``hmac`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress

import pytest

from api.webhooks import backoff, signing, targets

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_matches_the_standard_webhooks_library_vector() -> None:
    assert (
        signing.sign(SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TS, body=SPEC_BODY)
        == SPEC_SIGNATURE
    )


def test_signing_matches_an_hmac_computed_by_hand() -> None:
    key = bytes(range(32))  # 00 01 02 ... 1f
    secret = "whsec_" + base64.b64encode(key).decode()
    msg_id, ts = "msg_0123456789abcdefghijklmn", 1767225600  # 2026-01-01T00:00:00Z
    body = b'{"type":"alert.opened","timestamp":"2026-01-01T00:00:00Z","data":{"n":1}}'
    content = b"msg_0123456789abcdefghijklmn.1767225600." + body
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    assert signing.sign(secret, message_id=msg_id, timestamp=ts, body=body) == expected


def test_the_signature_covers_id_timestamp_and_body() -> None:
    base = signing.sign(SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TS, body=SPEC_BODY)
    assert base != signing.sign(
        SPEC_SECRET, message_id=SPEC_ID + "x", timestamp=SPEC_TS, body=SPEC_BODY
    )
    assert base != signing.sign(
        SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TS + 1, body=SPEC_BODY
    )
    assert base != signing.sign(
        SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TS, body=SPEC_BODY + b" "
    )


def test_during_a_rotation_the_header_carries_both_signatures_space_separated() -> None:
    new = signing.new_secret()
    headers = signing.headers(
        [new, SPEC_SECRET], message_id=SPEC_ID, timestamp=SPEC_TS, body=SPEC_BODY
    )
    first, second = headers["webhook-signature"].split(" ")
    assert second == SPEC_SIGNATURE
    assert first == signing.sign(new, message_id=SPEC_ID, timestamp=SPEC_TS, body=SPEC_BODY)
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == "1614265330"


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    one, two = signing.new_secret(), signing.new_secret()
    assert one.startswith("whsec_") and one != two
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32


def test_retry_ceilings_double_from_the_base_up_to_the_maximum() -> None:
    # The test server's settings: base 0.2 s, max 2 s.
    ceilings = [backoff.ceiling(n, base_s=0.2, max_s=2.0) for n in range(1, 7)]
    assert ceilings == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    assert backoff.ceiling(200, base_s=2.0, max_s=3600.0) == 3600.0


def test_full_jitter_draws_uniformly_between_zero_and_the_ceiling() -> None:
    assert backoff.retry_delay(3, base_s=0.2, max_s=2.0, rand=lambda: 0.0) == 0.0
    assert backoff.retry_delay(3, base_s=0.2, max_s=2.0, rand=lambda: 0.5) == pytest.approx(0.4)
    assert backoff.retry_delay(3, base_s=0.2, max_s=2.0, rand=lambda: 0.999) < 0.8
    drawn = [backoff.retry_delay(4, base_s=0.2, max_s=2.0) for _ in range(200)]
    assert all(0 <= d <= 1.6 for d in drawn) and max(drawn) - min(drawn) > 0.5


def test_retry_after_raises_the_delay_up_to_the_maximum() -> None:
    def low() -> float:
        return 0.0

    assert backoff.retry_delay(1, base_s=0.2, max_s=2.0, retry_after_s=1.0, rand=low) == 1.0
    assert backoff.retry_delay(1, base_s=0.2, max_s=2.0, retry_after_s=30.0, rand=low) == 2.0
    assert backoff.parse_retry_after(" 7 ") == 7.0
    assert backoff.parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address"),  # NAT64 of 169.254.169.254
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("0.1.2.3", "an unspecified address"),  # "this network": Linux connects it locally
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "a reserved address"),
        # Alibaba Cloud's metadata service, bare and in every IPv6 form that carries IPv4.
        ("100.100.100.200", "a cloud metadata address"),
        ("::ffff:100.100.100.200", "a cloud metadata address"),  # IPv4-mapped
        ("64:ff9b::6464:64c8", "a cloud metadata address"),  # NAT64
        ("2002:6464:64c8::1", "a cloud metadata address"),  # 6to4
        ("::100.100.100.200", "a cloud metadata address"),  # IPv4-compatible
        ("::a9fe:a9fe", "a cloud metadata address"),  # IPv4-compatible 169.254.169.254
        ("::169.254.1.1", "a link-local address"),  # IPv4-compatible
        # Deprecated (RFC 4291 2.5.5.1): refused even when the IPv4 it carries is public.
        ("::8.8.8.8", "a deprecated IPv4-compatible IPv6 address"),
        ("::10.1.2.3", "a deprecated IPv4-compatible IPv6 address"),
    ],
)
def test_always_refused_addresses_stay_refused_when_private_targets_are_allowed(
    address: str, reason: str
) -> None:
    ip = ipaddress.ip_address(address)
    assert targets.refusal(ip, allow_private=True) == reason
    assert targets.refusal(ip, allow_private=False) == reason


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "fc00::1",
        "100.64.0.1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.1.2.3",  # IPv4-mapped private
        "64:ff9b::a01:203",  # NAT64 of 10.1.2.3
        "2002:a01:203::1",  # 6to4 of 10.1.2.3
    ],
)
def test_loopback_and_private_addresses_need_private_targets_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert targets.refusal(ip, allow_private=True) is None
    assert targets.refusal(ip, allow_private=False) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert targets.refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./x",
        "http://[fe80::1]:8080/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_resolve_refuses_bad_schemes_credentials_and_forbidden_hosts(url: str) -> None:
    with pytest.raises(targets.TargetRefused):
        await targets.resolve(url, allow_private=True)


async def test_resolve_pins_the_checked_address_and_keeps_the_host_for_http_and_tls() -> None:
    plain = await targets.resolve("http://127.0.0.1:8081/a?b=1", allow_private=True)
    assert plain.connect_urls == ("http://127.0.0.1:8081/a?b=1",)
    assert plain.host_header == "127.0.0.1:8081" and plain.extensions == {}
    named = await targets.resolve("https://localhost:9443/hook", allow_private=True)
    assert set(named.addresses) <= {"127.0.0.1", "::1"}
    assert named.host_header == "localhost:9443"
    assert named.extensions == {"sni_hostname": "localhost"}
    assert named.connect_urls[0].startswith(("https://127.0.0.1:9443/", "https://[::1]:9443/"))
    with pytest.raises(targets.TargetRefused, match="loopback"):
        await targets.resolve("http://localhost/hook", allow_private=False)
