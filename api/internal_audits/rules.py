"""What internal audits and their findings check and do in the transaction of a write (9.3).

- An audit closes only with its report kept (``PUT .../report``) as declared by its file name
  and sha256; once closed, its content is fixed (archiving aside).
- A finding belongs to an audit the caller sees, for the audit's owner (or an enterprise of the
  park, for a park-level audit), and only while the audit is open: a closed or cancelled
  audit's findings are fixed.
- A nonconformity finding opens one corrective-action ticket (10.1) and keeps its id.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from api.errors import ApiError
from api.internal_audits.enums import AuditStatus, FindingType
from api.internal_audits.models import AuditContent, FindingContent
from api.live import LiveEvent
from api.registers import files, service, tickets
from api.registers.spec import RegisterSpec, WriteRules
from api.registers.tenancy import Owner
from api.tickets.enums import SourceKind

AUDIT_REGISTER = "internal_audit"  # its name and table
FINDING_REGISTER = "audit_finding"
REPORT = "report"  # the kind of an audit's file in register_file
_FIXED = (AuditStatus.CLOSED.value, AuditStatus.CANCELLED.value)


def _values(content: BaseModel) -> dict[str, Any]:
    dumped = content.model_dump(mode="python")
    return {k: v.value if isinstance(v, Enum) else v for k, v in dumped.items()}


class AuditRules(WriteRules):
    async def check(
        self,
        conn: AsyncConnection[Any],
        *,
        owner: Owner,
        content: BaseModel,
        tenant: str | None,
        current: dict[str, Any] | None,
    ) -> None:
        assert isinstance(content, AuditContent)
        if current is not None and current["audit_status"] == AuditStatus.CLOSED.value:
            if any(current[k] != v for k, v in _values(content).items()):
                raise ApiError(409, "a closed audit is fixed: archive it, or record a new audit")
            return
        if content.audit_status is not AuditStatus.CLOSED:
            return
        if current is None:
            raise ApiError(409, "record the audit, upload its report, then close it")
        kept = await files.stored(
            conn, register=AUDIT_REGISTER, record_id=current["record_id"], kind=REPORT
        )
        if kept is None or (kept["file_name"], kept["sha256"]) != (
            content.report_file_name,
            content.report_sha256,
        ):
            raise ApiError(
                409,
                f"upload the declared report (PUT /v1/internal-audits/{current['record_id']}"
                "/report) before closing the audit",
            )


class FindingRules(WriteRules):
    def __init__(self, audits: RegisterSpec) -> None:
        self.audits = audits

    async def check(
        self,
        conn: AsyncConnection[Any],
        *,
        owner: Owner,
        content: BaseModel,
        tenant: str | None,
        current: dict[str, Any] | None,
    ) -> None:
        assert isinstance(content, FindingContent)
        ref = content.audit_id
        audit = await service.get(conn, self.audits, record_id=ref, tenant=tenant, lock=True)
        if audit is None:
            raise ApiError(404, f"no internal audit {ref}")
        if audit["park_id"] != owner.park_id or audit["enterprise_id"] not in (
            None,
            owner.enterprise_id,
        ):
            raise ApiError(422, f"internal audit {ref} audits another owner than this finding's")
        if audit["audit_status"] in _FIXED:
            raise ApiError(
                409, f"internal audit {ref} is {audit['audit_status']}: its findings are fixed"
            )
        if current is not None and current["audit_id"] != ref:
            previous = await service.get(
                conn, self.audits, record_id=current["audit_id"], tenant=None
            )
            if previous is not None and previous["audit_status"] in _FIXED:
                raise ApiError(
                    409,
                    f"internal audit {current['audit_id']} is {previous['audit_status']}:"
                    " its findings are fixed",
                )

    async def after(
        self,
        conn: AsyncConnection[Any],
        *,
        row: dict[str, Any],
        before: dict[str, Any] | None,
        actor: str,
        events: list[LiveEvent],
    ) -> dict[str, Any]:
        if row["status"] != "active" or row["finding_type"] != FindingType.NONCONFORMITY.value:
            return row
        return await tickets.open_for(
            conn,
            register=FINDING_REGISTER,
            table=FINDING_REGISTER,
            row=row,
            source_kind=SourceKind.INTERNAL_AUDIT,
            title=f"Audit finding ({row['clause']}): {row['title']}",
            description=(
                f"Internal audit {row['audit_id']}, finding {row['record_id']} against clause "
                f"{row['clause']}: {row['description']}\nEvidence: {row['evidence']}"
            )[:10_000],
            actor=actor,
            events=events,
        )
