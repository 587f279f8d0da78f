"""What obligations and their evaluations check and do in the transaction of a write.

- An obligation names only enterprises of its park (``applies_to``), and only a park-level
  obligation names enterprises (an enterprise's binds that enterprise).
- An evaluation evaluates an obligation the caller sees, for the obligation's owner, or for an
  enterprise a park-level obligation binds (9.2).
- A non-compliant evaluation opens one nonconformity ticket (10.1) and keeps its id; every
  evaluation moves its obligation's next evaluation to the evaluation's date plus the
  obligation's frequency - never earlier than it was, so an old evaluation entered late does not
  bring the date back.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from api import audit
from api.errors import ApiError
from api.live import LiveEvent
from api.obligations.enums import Applicability, EvaluationResult
from api.obligations.models import EvaluationContent, ObligationContent
from api.registers import service, tickets
from api.registers.spec import RegisterSpec, WriteRules
from api.registers.tenancy import Owner
from api.tickets.enums import SourceKind

EVALUATION_REGISTER = "compliance_evaluation"  # its name and table


def months_after(day: date, months: int) -> date:
    """The same day ``months`` later, the month's last day where it has no such day
    (2025-01-31 + 1 month: 2025-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class ObligationRules(WriteRules):
    async def check(
        self,
        conn: AsyncConnection[Any],
        *,
        owner: Owner,
        content: BaseModel,
        tenant: str | None,
        current: dict[str, Any] | None,
    ) -> None:
        assert isinstance(content, ObligationContent)
        if content.applicability is not Applicability.NAMED_ENTERPRISES:
            return
        if owner.enterprise_id is not None:
            raise ApiError(
                422,
                "an enterprise's obligation binds that enterprise: applicability 'all'; "
                "a park-level obligation names enterprises",
            )
        cur = await conn.execute(
            "SELECT enterprise_id FROM enterprise WHERE park_id = %s AND enterprise_id = ANY(%s)",
            (owner.park_id, content.applies_to),
        )
        known = {r[0] for r in await cur.fetchall()}
        unknown = [e for e in content.applies_to if e not in known]
        if unknown:
            raise ApiError(422, f"applies_to: no enterprise {unknown} in park {owner.park_id!r}")


class EvaluationRules(WriteRules):
    def __init__(self, obligations: RegisterSpec) -> None:
        self.obligations = obligations

    async def check(
        self,
        conn: AsyncConnection[Any],
        *,
        owner: Owner,
        content: BaseModel,
        tenant: str | None,
        current: dict[str, Any] | None,
    ) -> None:
        assert isinstance(content, EvaluationContent)
        ref = content.obligation_id
        obligation = await service.get(
            conn, self.obligations, record_id=ref, tenant=tenant, lock=True
        )
        if obligation is None:
            raise ApiError(404, f"no obligation {ref}")
        if obligation["park_id"] != owner.park_id:
            raise ApiError(422, f"obligation {ref} is not in park {owner.park_id!r}")
        bound = obligation["enterprise_id"]
        if bound is not None and bound != owner.enterprise_id:
            raise ApiError(422, f"obligation {ref} is enterprise {bound!r}'s: evaluate it for it")
        named = obligation["applicability"] == Applicability.NAMED_ENTERPRISES.value
        enterprise = owner.enterprise_id
        if bound is None and named and enterprise not in (None, *obligation["applies_to"]):
            raise ApiError(422, f"obligation {ref} does not apply to enterprise {enterprise!r}")

    async def after(
        self,
        conn: AsyncConnection[Any],
        *,
        row: dict[str, Any],
        before: dict[str, Any] | None,
        actor: str,
        events: list[LiveEvent],
    ) -> dict[str, Any]:
        if row["status"] != "active":
            return row
        obligation = await service.get(
            conn, self.obligations, record_id=row["obligation_id"], tenant=None, lock=True
        )
        assert obligation is not None  # checked in this transaction
        due = months_after(row["evaluated_on"], obligation["evaluation_frequency_months"])
        if due > obligation["next_evaluation_due"]:
            await conn.execute(
                "UPDATE obligation SET next_evaluation_due = %s, updated_at = now(),"
                " updated_by = %s WHERE record_id = %s",
                (due, actor, obligation["record_id"]),
            )
            await audit.record(
                conn,
                actor=actor,
                action="evaluated",
                entity=self.obligations.name,
                entity_id=str(obligation["record_id"]),
                before={"next_evaluation_due": obligation["next_evaluation_due"].isoformat()},
                after={
                    "next_evaluation_due": due.isoformat(),
                    "evaluation_id": row["record_id"],
                },
            )
        if row["result"] != EvaluationResult.NON_COMPLIANT.value:
            return row
        return await tickets.open_for(
            conn,
            register=EVALUATION_REGISTER,
            table=EVALUATION_REGISTER,
            row=row,
            source_kind=SourceKind.COMPLIANCE_EVALUATION,
            title=f"Non-compliant: {obligation['title']}",
            description=(
                f"Compliance evaluation {row['record_id']} of obligation "
                f"{obligation['record_id']} ({obligation['source_document']}"
                f"{', ' + obligation['clause'] if obligation['clause'] else ''}) for "
                f"{row['period_start']} to {row['period_end']}: {row['finding']}"
            )[:10_000],
            actor=actor,
            events=events,
        )
