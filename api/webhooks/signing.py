"""Standard Webhooks signatures (spec 1.0.0, "Signature scheme" and "Webhook headers").

A secret reads ``whsec_<base64 of 32 random bytes>`` (the spec asks for 24 to 64 bytes). The
signature is ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`` keyed with
the decoded bytes; during a rotation the header carries one signature per valid secret,
space-separated, so a receiver holding either secret verifies the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 - the marker of a secret, not one
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 after the ``whsec_`` prefix, decoded."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded, validate=True)


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<signature>`` entry of the ``webhook-signature`` header."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_: Iterable[str], *, message_id: str, timestamp: int, body: bytes
) -> str:
    """The ``webhook-signature`` value: one signature per currently valid secret."""
    return " ".join(
        sign(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_
    )


def headers(
    secrets_: Iterable[str], *, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt (timestamp: of the attempt, in s)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_, message_id=message_id, timestamp=timestamp, body=body
        ),
    }
