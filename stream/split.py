"""Size-bound ``readings.raw`` messages: one source's batch as several messages when it is large.

Kafka bounds a message twice: the producer refuses a record above its ``max_request_size``
(aiokafka: 1 MiB, checked on the *uncompressed* record) and the broker one above
``message.max.bytes`` / the topic's ``max.message.bytes`` (default 1,048,588 bytes, checked on
the compressed batch). A batch of 10,000 readings encodes to about 1.3 MB, so every producer of
``readings.raw`` splits its encoded batches below ``kafka_max_message_bytes`` (900,000 by
default: below both limits, before compression, with room for the record's own overhead).

A split keeps the envelope (source, gateway, source key), the readings' order and each
reading's ``seq`` and timestamp untouched; the parts go out in order under the same key, so a
source's readings reach one partition in the order they were read. The stream identifies a
reading by (meter, time), so re-sending some or all parts (a retry, a crash between the
acknowledgement and the buffer's delete) is recognised reading by reading as a replay.
"""

from __future__ import annotations

from typing import Any

import orjson

DEFAULT_MAX_MESSAGE_BYTES = 900_000


class MessageTooLargeError(ValueError):
    """A single reading (with its envelope) is larger than the message limit: unsendable."""


def split_message(payload: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[bytes]:
    """``payload`` (an encoded batch of at most ``MAX_READINGS_PER_BATCH`` readings) as
    messages of at most ``max_bytes`` bytes, in order; ``payload`` itself when it fits.

    Raises ``MessageTooLargeError`` when one reading alone does not fit, and ``ValueError``
    when ``payload`` is not an encoded batch (a JSON object with a list of ``readings``).
    Every part is at most as large as the payload, so it never holds more readings either."""
    if len(payload) <= max_bytes:
        return [payload]  # the usual case: no decoding
    obj: Any = orjson.loads(payload)
    if not isinstance(obj, dict) or not isinstance(obj.get("readings"), list):
        raise ValueError("not an encoded batch: no list of readings")
    items: list[Any] = obj["readings"]
    envelope = len(orjson.dumps({**obj, "readings": []}))
    parts: list[bytes] = []
    chunk: list[Any] = []
    size = envelope
    for item in items:
        item_size = len(orjson.dumps(item))
        if envelope + item_size > max_bytes:
            raise MessageTooLargeError(
                f"one reading makes a {envelope + item_size}-byte message, above the"
                f" {max_bytes}-byte limit"
            )
        extra = item_size + (1 if chunk else 0)  # the comma before it
        if chunk and size + extra > max_bytes:
            parts.append(orjson.dumps({**obj, "readings": chunk}))
            chunk, size, extra = [], envelope, item_size
        chunk.append(item)
        size += extra
    if chunk or not parts:
        parts.append(orjson.dumps({**obj, "readings": chunk}))
    return parts
