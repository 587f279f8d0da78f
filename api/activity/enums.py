"""States and events of an activity record, and the evidence file types accepted."""

from __future__ import annotations

from enum import StrEnum


class RecordState(StrEnum):
    """A draft counts nowhere; a confirmed record counts in the inventory; a withdrawn one is
    kept (with every version) but counts nowhere, for good."""

    DRAFT = "draft"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


class RecordEvent(StrEnum):
    CONFIRM = "confirm"
    WITHDRAW = "withdraw"
    CORRECT = "correct"  # a new version; the record needs confirming again


class EvidenceType(StrEnum):
    """Evidence file types, by the content type the upload declares."""

    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    CSV = "text/csv"
    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# File name endings each type may have, and the bytes each type's files start with.
EXTENSIONS: dict[EvidenceType, tuple[str, ...]] = {
    EvidenceType.PDF: (".pdf",),
    EvidenceType.PNG: (".png",),
    EvidenceType.JPEG: (".jpg", ".jpeg"),
    EvidenceType.CSV: (".csv",),
    EvidenceType.XLSX: (".xlsx",),
}
MAGIC: dict[EvidenceType, bytes] = {
    EvidenceType.PDF: b"%PDF-",
    EvidenceType.PNG: b"\x89PNG\r\n\x1a\n",
    EvidenceType.JPEG: b"\xff\xd8\xff",
    EvidenceType.XLSX: b"PK\x03\x04",  # a ZIP container
}
