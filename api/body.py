"""Raw request bodies (file uploads) read with a size limit, so a large upload is refused
(413) as soon as it passes the limit instead of after it was held whole in memory."""

from __future__ import annotations

from fastapi import Request

from api.errors import ApiError


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or 413 once it grows past ``limit`` bytes."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    return bytes(data)
