"""Size-bound messages: one source's batch as several messages when it is large.

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

The worker bounds its own outputs the same way (``field``): a ``readings.valid`` message
(``readings``), a ``readings.rejected`` message (``rejections``, see
``contracts.records.rejected_messages``) and an ``emissions.windows`` message (``windows``) are
split below the same limit, keeping their envelope.
"""

from __future__ import annotations

from typing import Any

import orjson

DEFAULT_MAX_MESSAGE_BYTES = 900_000


class MessageTooLargeError(ValueError):
    """A single reading (with its envelope) is larger than the message limit: unsendable."""


def split_message(
    payload: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, *, field: str = "readings"
) -> list[bytes]:
    """``payload`` (a JSON object whose list ``field`` holds the items, e.g. an encoded batch
    of at most ``MAX_READINGS_PER_BATCH`` readings) as messages of at most ``max_bytes`` bytes,
    each with the same other members, in order; ``payload`` itself when it fits.

    Raises ``MessageTooLargeError`` when one item alone does not fit, and ``ValueError``
    when ``payload`` is not such an object. Every part is at most as large as the payload, so
    it never holds more items either."""
    if len(payload) <= max_bytes:
        return [payload]  # the usual case: no decoding
    obj: Any = orjson.loads(payload)
    if not isinstance(obj, dict) or not isinstance(obj.get(field), list):
        raise ValueError(f"not an encoded batch: no list of {field}")
    items: list[Any] = obj[field]
    envelope = len(orjson.dumps({**obj, field: []}))
    parts: list[bytes] = []
    chunk: list[Any] = []
    size = envelope
    for item in items:
        item_size = len(orjson.dumps(item))
        if envelope + item_size > max_bytes:
            raise MessageTooLargeError(
                f"one {field.removesuffix('s')} makes a {envelope + item_size}-byte message,"
                f" above the"
                f" {max_bytes}-byte limit"
            )
        extra = item_size + (1 if chunk else 0)  # the comma before it
        if chunk and size + extra > max_bytes:
            parts.append(orjson.dumps({**obj, field: chunk}))
            chunk, size, extra = [], envelope, item_size
        chunk.append(item)
        size += extra
    if chunk or not parts:
        parts.append(orjson.dumps({**obj, field: chunk}))
    return parts
