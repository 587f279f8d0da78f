"""An evidence file is accepted only when it is what its record says: the sha256 of its bytes
is the declared one, its content type matches the declared file name, and its first bytes are
those of that type (clause 7.3: documented information that can be trusted)."""

from __future__ import annotations

import hashlib
import hmac

from api.activity.enums import EXTENSIONS, MAGIC, EvidenceType
from api.errors import ApiError

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


def check(*, file_name: str, sha256: str, content_type: str, data: bytes) -> EvidenceType:
    """The file's type, or an ``ApiError`` (415 unknown type, 422 mismatch) saying why."""
    try:
        kind = EvidenceType(content_type.split(";")[0].strip().lower())
    except ValueError:
        raise ApiError(
            415,
            f"evidence content type {content_type!r} is not accepted",
            accepted=[t.value for t in EvidenceType],
        ) from None
    if not data:
        raise ApiError(422, "the evidence file is empty")
    if not file_name.lower().endswith(EXTENSIONS[kind]):
        raise ApiError(
            422,
            f"the record names the file {file_name!r}, which is not a {kind.name} file "
            f"({', '.join(EXTENSIONS[kind])})",
        )
    magic = MAGIC.get(kind)
    if magic is not None and not data.startswith(magic):
        raise ApiError(422, f"the file's bytes are not a {kind.name} file")
    if kind is EvidenceType.CSV:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(422, "the CSV evidence file is not UTF-8 text") from None
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, sha256):
        raise ApiError(
            422, f"the file's sha256 is {actual}, the record declares {sha256}", sha256=actual
        )
    return kind
