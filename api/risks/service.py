"""The risk register and project screenings: reads and writes with their audit records (6.1,
6.3.5). ``tenant`` is the caller's enterprise (None for park-wide keys); a record the caller
may not see reads as absent (None: the route's 404)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api import audit
from api.context_issues.spec import SPEC as CONTEXT_ISSUES
from api.errors import ApiError
from api.interested_parties.spec import SPEC as INTERESTED_PARTIES
from api.keys import Principal
from api.registers import service as registers
from api.registers.spec import RegisterSpec
from api.registers.tenancy import TENANT_FILTER, Owner, owner_of
from api.risks import rules
from api.risks.models import ActionIn, DecisionIn, ReviewIn, RiskIn, RiskPatch, ScreeningIn

_RISK = f"SELECT r.* FROM risk r WHERE {TENANT_FILTER} AND r.risk_id = %(id)s"  # noqa: S608 - constants only
_RISKS = f"""
SELECT r.* FROM risk r
WHERE {TENANT_FILTER}
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
  AND (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(after)s::bigint IS NULL OR r.risk_id < %(after)s)
ORDER BY r.risk_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - constants only; every value is a parameter
_SCREENING = (
    f"SELECT r.* FROM project_screening r WHERE {TENANT_FILTER} AND r.screening_id = %(id)s"  # noqa: S608
)
_SCREENINGS = f"""
SELECT r.* FROM project_screening r
WHERE {TENANT_FILTER}
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(after)s::bigint IS NULL OR r.screening_id < %(after)s)
ORDER BY r.screening_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - constants only
_ACTIONS = "SELECT * FROM risk_action WHERE risk_id = %s ORDER BY action_id"
_REVIEWS = """
SELECT v.* FROM risk_action_review v JOIN risk_action a USING (action_id)
WHERE a.risk_id = %s ORDER BY v.review_id
"""


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _insert(conn: AsyncConnection[Any], table: str, values: dict[str, Any]) -> dict[str, Any]:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(map(sql.Placeholder, values)),
    )
    [row] = await _rows(conn, query, values)
    return row


def _page(
    rows: list[dict[str, Any]], limit: int, ident: str
) -> tuple[list[dict[str, Any]], int | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1][ident] if more else None


async def create_risk(
    conn: AsyncConnection[Any], *, who: Principal, body: RiskIn
) -> dict[str, Any]:
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    for spec, what, linked in (
        (CONTEXT_ISSUES, "context issue", body.context_issue_id),
        (INTERESTED_PARTIES, "interested party", body.interested_party_id),
    ):
        if linked is not None:
            await _check_source(conn, spec, what, linked, who=who, owner=owner)
    values = body.model_dump(exclude={"park_id", "enterprise_id"})
    values |= {
        "park_id": owner.park_id,
        "enterprise_id": owner.enterprise_id,
        "score": rules.score(body.likelihood, body.consequence),
        "created_by": who.actor,
        "updated_by": who.actor,
    }
    async with conn.transaction():
        row = await _insert(conn, "risk", values)
        await audit.record(
            conn,
            actor=who.actor,
            action="create",
            entity="risk",
            entity_id=str(row["risk_id"]),
            before=None,
            after=values,
        )
    return row


async def _check_source(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    what: str,
    record_id: int,
    *,
    who: Principal,
    owner: Owner,
) -> None:
    """6.1.1 a, b: the issue or party a risk was identified from is one the caller sees (else
    404, as if absent), in the risk's park, and the risk's enterprise's or park-level."""
    source = await registers.get(conn, spec, record_id=record_id, tenant=who.enterprise_id)
    if source is None:
        raise ApiError(404, f"no {what} {record_id}")
    if source["park_id"] != owner.park_id or source["enterprise_id"] not in (
        None,
        owner.enterprise_id,
    ):
        raise ApiError(
            422, f"{what} {record_id} belongs to another enterprise or park than the risk"
        )


async def list_risks(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    enterprise_id: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    params = {
        "tenant": tenant,
        "enterprise": enterprise_id,
        "kind": kind,
        "status": status,
        "after": after,
        "limit": limit + 1,
    }
    return _page(await _rows(conn, _RISKS, params), limit, "risk_id")


async def get_risk(
    conn: AsyncConnection[Any], *, risk_id: int, tenant: str | None
) -> dict[str, Any] | None:
    """The risk with its actions, each with its effectiveness reviews."""
    async with conn.transaction():
        found = await _rows(conn, _RISK, {"tenant": tenant, "id": risk_id})
        if not found:
            return None
        risk = found[0]
        actions = await _rows(conn, _ACTIONS, (risk_id,))
        reviews = await _rows(conn, _REVIEWS, (risk_id,))
    for action in actions:
        action["reviews"] = [r for r in reviews if r["action_id"] == action["action_id"]]
    risk["actions"] = actions
    return risk


async def _locked(
    conn: AsyncConnection[Any], risk_id: int, tenant: str | None
) -> dict[str, Any] | None:
    found = await _rows(conn, _RISK + " FOR UPDATE", {"tenant": tenant, "id": risk_id})
    return found[0] if found else None


async def patch_risk(
    conn: AsyncConnection[Any], *, risk_id: int, tenant: str | None, body: RiskPatch, actor: str
) -> dict[str, Any] | None:
    """A re-assessment; the score follows the ratings."""
    changes = body.changes()
    async with conn.transaction():
        risk = await _locked(conn, risk_id, tenant)
        if risk is None:
            return None
        if not changes:
            return risk
        likelihood = changes.get("likelihood", risk["likelihood"])
        consequence = changes.get("consequence", risk["consequence"])
        changes["score"] = rules.score(likelihood, consequence)
        columns = {**changes, "updated_by": actor}
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in columns
        )
        query = sql.SQL(
            "UPDATE risk SET {}, updated_at = now() WHERE risk_id = {} RETURNING *"
        ).format(assignments, sql.Placeholder("risk_id"))
        [row] = await _rows(conn, query, {**columns, "risk_id": risk_id})
        await audit.record(
            conn,
            actor=actor,
            action="update",
            entity="risk",
            entity_id=str(risk_id),
            before={k: risk[k] for k in changes},
            after=changes,
        )
    return row


async def add_action(
    conn: AsyncConnection[Any], *, risk_id: int, tenant: str | None, body: ActionIn, actor: str
) -> dict[str, Any] | None:
    async with conn.transaction():
        if await _locked(conn, risk_id, tenant) is None:
            return None
        values = body.model_dump() | {"risk_id": risk_id, "created_by": actor}
        row = await _insert(conn, "risk_action", values)
        await audit.record(
            conn,
            actor=actor,
            action="add_action",
            entity="risk",
            entity_id=str(risk_id),
            before=None,
            after={"action_id": row["action_id"], **values},
        )
    return row | {"reviews": []}


async def add_review(
    conn: AsyncConnection[Any],
    *,
    risk_id: int,
    action_id: int,
    tenant: str | None,
    body: ReviewIn,
    actor: str,
) -> dict[str, Any] | None:
    """Record an action's effectiveness review (6.1.3 b 2)."""
    async with conn.transaction():
        if await _locked(conn, risk_id, tenant) is None:
            return None
        cur = await conn.execute(
            "SELECT 1 FROM risk_action WHERE risk_id = %s AND action_id = %s", (risk_id, action_id)
        )
        if await cur.fetchone() is None:
            return None
        values = body.model_dump() | {"action_id": action_id, "reviewed_by": actor}
        row = await _insert(conn, "risk_action_review", values)
        await audit.record(
            conn,
            actor=actor,
            action="review_action",
            entity="risk",
            entity_id=str(risk_id),
            before=None,
            after={"review_id": row["review_id"], **values},
        )
    return row


async def create_screening(
    conn: AsyncConnection[Any], *, who: Principal, body: ScreeningIn
) -> dict[str, Any]:
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    values = body.model_dump(exclude={"park_id", "enterprise_id", "criteria"})
    values |= {
        "park_id": owner.park_id,
        "enterprise_id": owner.enterprise_id,
        "criteria": Jsonb([c.model_dump() for c in body.criteria]),
        "created_by": who.actor,
    }
    async with conn.transaction():
        row = await _insert(conn, "project_screening", values)
        await audit.record(
            conn,
            actor=who.actor,
            action="create",
            entity="project_screening",
            entity_id=str(row["screening_id"]),
            before=None,
            after=body.model_dump(mode="json"),
        )
    return row


async def list_screenings(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    enterprise_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    params = {"tenant": tenant, "enterprise": enterprise_id, "after": after, "limit": limit + 1}
    return _page(await _rows(conn, _SCREENINGS, params), limit, "screening_id")


async def get_screening(
    conn: AsyncConnection[Any], *, screening_id: int, tenant: str | None, lock: bool = False
) -> dict[str, Any] | None:
    query = _SCREENING + (" FOR UPDATE" if lock else "")
    found = await _rows(conn, query, {"tenant": tenant, "id": screening_id})
    return found[0] if found else None


async def decide(
    conn: AsyncConnection[Any],
    *,
    screening_id: int,
    tenant: str | None,
    body: DecisionIn,
    actor: str,
) -> dict[str, Any] | None:
    """Record the admission decision, once (409 when decided); ``rules.check_decision``."""
    async with conn.transaction():
        screening = await get_screening(conn, screening_id=screening_id, tenant=tenant, lock=True)
        if screening is None:
            return None
        if screening["decision"] is not None:
            raise ApiError(
                409,
                f"screening {screening_id} was decided already ({screening['decision']})",
                decision=screening["decision"],
            )
        unmet = [c["criterion"] for c in screening["criteria"] if not c["met"]]
        try:
            rules.check_decision(body.decision, unmet=unmet, conditions=body.conditions)
        except rules.DecisionError as exc:
            raise ApiError(409, str(exc), unmet=unmet) from exc
        values = {
            "decision": body.decision.value,
            "conditions": body.conditions,
            "decision_reason": body.reason,
            "decided_by": body.decided_by,
            "decided_at": body.decided_at,
            "recorded_by": actor,
        }
        [row] = await _rows(
            conn,
            "UPDATE project_screening SET decision = %(decision)s, conditions = %(conditions)s,"
            " decision_reason = %(decision_reason)s, decided_by = %(decided_by)s,"
            " decided_at = %(decided_at)s, recorded_by = %(recorded_by)s"
            " WHERE screening_id = %(id)s RETURNING *",
            {**values, "id": screening_id},
        )
        await audit.record(
            conn,
            actor=actor,
            action="decide",
            entity="project_screening",
            entity_id=str(screening_id),
            before=None,
            after=values,
        )
    return row
