"""Reduction measures in the database (clauses 6.2.2, 6.3, 6.3.1 a): create, read, change,
move along ``flows.TRANSITIONS``, verify against the baseline (M&V) and rank. Each write and
its audit record share one transaction.

``tenant`` is the caller's enterprise (None for park-wide keys): another enterprise's measure,
or a park-level one for an enterprise key, reads as absent, so routes answer 404.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from accounting import measures as mv
from api import audit
from api.errors import ApiError
from api.measures import flows
from api.measures.enums import OPEN_STATES, MeasureState, MvSubject

Row = dict[str, Any]
_TENANT = "(%(tenant)s::text IS NULL OR r.enterprise_id = %(tenant)s)"
_LIST = f"""
SELECT r.* FROM measure r
WHERE {_TENANT}
  AND (%(status)s::text[] IS NULL OR r.status = ANY(%(status)s))
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(after)s::bigint IS NULL OR r.record_id < %(after)s)
ORDER BY r.record_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - built from constants only; every value is a parameter
_ONE = f"SELECT r.* FROM measure r WHERE {_TENANT} AND r.record_id = %(id)s"  # noqa: S608
_EDITABLE = frozenset(
    {
        "title",
        "description",
        "expected_tco2e_per_year",
        "expected_tce_per_year",
        "capex_cny",
        "owner",
        "planned_start",
        "planned_end",
    }
)
_FINAL = frozenset({MeasureState.VERIFIED, MeasureState.CANCELLED})
# The current baseline of each subject: the head of its restatement chain (clause 6.5), as
# /v1/progress reads it.
_BASELINES = """
SELECT DISTINCT ON (b.subject_id) b.subject_id, b.baseline_id, b.method, b.period_kind,
       b.value_tco2e
FROM baseline b
WHERE b.subject_kind = %(kind)s AND b.subject_id = ANY(%(ids)s)
  AND NOT EXISTS (SELECT 1 FROM baseline r WHERE r.recalculated_from = b.baseline_id)
ORDER BY b.subject_id, b.baseline_id DESC
"""
# Stored hour windows over park-local days: meters as measured (like a meter's own target);
# an enterprise or the park by the boundary rule (counted_window, migration 0022).
_WINDOWS = """
WITH bounds AS (
  SELECT (%(start)s::date)::timestamp AT TIME ZONE p.timezone AS t0,
         (%(end)s::date)::timestamp AT TIME ZONE p.timezone AS t1
  FROM park p WHERE p.park_id = %(park)s
)
SELECT coalesce(sum(w.tco2e), 0), count(*) FROM (
  SELECT x.tco2e, x.window_start FROM emission_window x
  WHERE %(kind)s = 'meter' AND x.width_s = 3600 AND x.meter_id = ANY(%(ids)s)
  UNION ALL
  SELECT x.tco2e, x.window_start FROM counted_window x
  JOIN enterprise e ON e.enterprise_id = x.enterprise_id
  WHERE %(kind)s <> 'meter' AND x.width_s = 3600
    AND CASE %(kind)s WHEN 'enterprise' THEN x.enterprise_id = ANY(%(ids)s)
                      ELSE e.park_id = ANY(%(ids)s) END
) w, bounds
WHERE w.window_start >= bounds.t0 AND w.window_start < bounds.t1
"""


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def _missing(measure_id: int) -> ApiError:
    return ApiError(404, f"no measure {measure_id}")


async def check_meters(
    conn: AsyncConnection[Any], *, meter_ids: list[str], park_id: str, enterprise_id: str | None
) -> None:
    """The affected meters exist and belong to the record's enterprise (or park); a meter the
    caller may not see reads as absent (422 names it as unknown)."""
    if not meter_ids:
        return
    found = await _rows(
        conn,
        "SELECT m.meter_id FROM meter m JOIN enterprise e USING (enterprise_id)"
        " WHERE m.meter_id = ANY(%s) AND e.park_id = %s"
        " AND (%s::text IS NULL OR m.enterprise_id = %s)",
        (meter_ids, park_id, enterprise_id, enterprise_id),
    )
    unknown = sorted(set(meter_ids) - {r["meter_id"] for r in found})
    if unknown:
        whose = f"enterprise {enterprise_id!r}" if enterprise_id else f"park {park_id!r}"
        raise ApiError(422, f"meter_ids: no meter {unknown[0]!r} in {whose}")


async def create(conn: AsyncConnection[Any], *, row: dict[str, Any], actor: str) -> Row:
    """Insert a measure (``row`` with its owner) and its audit record."""
    async with conn.transaction():
        await check_meters(
            conn,
            meter_ids=row["meter_ids"],
            park_id=row["park_id"],
            enterprise_id=row["enterprise_id"],
        )
        stored = row | {"created_by": actor, "updated_by": actor}
        query = sql.SQL("INSERT INTO measure ({}) VALUES ({}) RETURNING *").format(
            sql.SQL(", ").join(map(sql.Identifier, stored)),
            sql.SQL(", ").join(sql.Placeholder() * len(stored)),
        )
        [measure] = await _rows(conn, query, list(stored.values()))
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="measure",
            entity_id=str(measure["record_id"]),
            before=None,
            after=measure,
        )
    return measure


async def list_measures(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    status: list[MeasureState] | None = None,
    enterprise_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[Row], int | None]:
    """One page, newest first, and the cursor (a record id) of the next page."""
    found = await _rows(
        conn,
        _LIST,
        {
            "tenant": tenant,
            "status": [s.value for s in status] if status else None,
            "enterprise": enterprise_id,
            "after": after,
            "limit": limit + 1,
        },
    )
    page = found[:limit]
    return page, page[-1]["record_id"] if len(found) > limit else None


async def get(
    conn: AsyncConnection[Any], *, measure_id: int, tenant: str | None, lock: bool = False
) -> Row:
    query = _ONE + (" FOR UPDATE OF r" if lock else "")
    found = await _rows(conn, query, {"tenant": tenant, "id": measure_id})
    if not found:
        raise _missing(measure_id)
    return found[0]


async def patch(
    conn: AsyncConnection[Any],
    *,
    measure_id: int,
    tenant: str | None,
    changes: dict[str, Any],
    actor: str,
) -> Row:
    """Change a measure's description, figures or schedule (not once verified or cancelled:
    409); the audit record keeps the row before and after."""
    assert set(changes) <= _EDITABLE, changes
    async with conn.transaction():
        before = await get(conn, measure_id=measure_id, tenant=tenant, lock=True)
        state = MeasureState(before["status"])
        if state in _FINAL:
            raise ApiError(409, f"a {state} measure is not changed", allowed=flows.allowed(state))
        merged = before | changes
        if merged["planned_end"] < merged["planned_start"]:
            raise ApiError(422, "planned_end must not precede planned_start")
        after = before
        if changes:
            sets = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in changes
            )
            query = sql.SQL(
                "UPDATE measure SET {}, updated_at = now(), updated_by = %(actor)s"
                " WHERE record_id = %(id)s RETURNING *"
            ).format(sets)
            [after] = await _rows(conn, query, changes | {"actor": actor, "id": measure_id})
        await audit.record(
            conn,
            actor=actor,
            action="update",
            entity="measure",
            entity_id=str(measure_id),
            before=before,
            after=after,
        )
    return after


async def _today(conn: AsyncConnection[Any], park_id: str) -> tuple[Any, date]:
    cur = await conn.execute(
        "SELECT now(), (now() AT TIME ZONE timezone)::date FROM park WHERE park_id = %s",
        (park_id,),
    )
    found = await cur.fetchone()
    assert found is not None
    return found[0], found[1]


async def transition(
    conn: AsyncConnection[Any],
    *,
    measure_id: int,
    tenant: str | None,
    request: flows.TransitionRequest,
    actor: str,
) -> Row:
    """Apply one transition of ``flows.TRANSITIONS`` with its audit record, or raise the
    ``flows`` error that says why it cannot be made."""
    async with conn.transaction():
        measure = await get(conn, measure_id=measure_id, tenant=tenant, lock=True)
        cur = await conn.execute(
            "SELECT count(*) FROM measure_verification WHERE measure_id = %s", (measure_id,)
        )
        counted = await cur.fetchone()
        assert counted is not None
        now, today = await _today(conn, measure["park_id"])
        facts = flows.MeasureFacts(state=MeasureState(measure["status"]), verifications=counted[0])
        change = flows.plan(facts, request, at=now, today=today)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in change.columns
        )
        query = sql.SQL(
            "UPDATE measure SET {}, updated_at = now(), updated_by = %(actor)s"
            " WHERE record_id = %(id)s RETURNING *"
        ).format(sets)
        [after] = await _rows(conn, query, change.columns | {"actor": actor, "id": measure_id})
        await audit.record(
            conn,
            actor=actor,
            action="transition",
            entity="measure",
            entity_id=str(measure_id),
            before={"status": change.previous.value},
            after={"status": change.target.value, **change.detail},
            reason=request.note or "",
        )
    return after


def subject_of(measure: Row) -> tuple[MvSubject, list[str]]:
    """What the M&V compares: the measure's meters, else its enterprise, else its park."""
    if measure["meter_ids"]:
        return MvSubject.METER, list(measure["meter_ids"])
    if measure["enterprise_id"] is not None:
        return MvSubject.ENTERPRISE, [measure["enterprise_id"]]
    return MvSubject.PARK, [measure["park_id"]]


async def verify(
    conn: AsyncConnection[Any],
    *,
    measure_id: int,
    tenant: str | None,
    period_start: date,
    period_end: date,
    note: str | None,
    actor: str,
) -> Row:
    """Record one M&V of an implemented measure over park-local ``[period_start, period_end)``
    with every figure it used (``accounting.measures.verify``)."""
    async with conn.transaction():
        measure = await get(conn, measure_id=measure_id, tenant=tenant, lock=True)
        state = MeasureState(measure["status"])
        if state not in (MeasureState.IMPLEMENTED, MeasureState.VERIFIED):
            raise ApiError(
                409, f"a {state} measure has no savings to verify yet", allowed=flows.allowed(state)
            )
        _, today = await _today(conn, measure["park_id"])
        if period_start < measure["implemented_on"]:
            raise ApiError(
                422, f"period_start precedes implemented_on ({measure['implemented_on']})"
            )
        if period_end <= period_start or period_end > today:
            raise ApiError(
                422, f"period_end must follow period_start and not lie after today ({today})"
            )
        kind, ids = subject_of(measure)
        figures = await _baselines(conn, kind=kind, ids=ids)
        cur = await conn.execute(
            _WINDOWS,
            {
                "kind": kind.value,
                "ids": ids,
                "park": measure["park_id"],
                "start": period_start,
                "end": period_end,
            },
        )
        totals = await cur.fetchone()
        assert totals is not None
        result = mv.verify(
            figures,
            actual_tco2e=float(totals[0]),
            start=period_start,
            end=period_end,
            expected_tco2e_per_year=measure["expected_tco2e_per_year"],
        )
        used = [
            {
                "subject_id": f.subject_id,
                "baseline_id": f.baseline_id,
                "period_kind": f.period_kind.value,
                "value_tco2e": f.value_tco2e,
                "prorated_tco2e": mv.prorated(
                    f.value_tco2e, f.period_kind, period_start, period_end
                ),
            }
            for f in figures
        ]
        row = {
            "measure_id": measure_id,
            "period_start": period_start,
            "period_end": period_end,
            "subject_kind": kind.value,
            "baselines": Jsonb(used),
            "baseline_tco2e": result.baseline_tco2e,
            "actual_tco2e": result.actual_tco2e,
            "hour_windows": int(totals[1]),
            "verified_savings_tco2e": result.verified_savings_tco2e,
            "expected_savings_tco2e": result.expected_savings_tco2e,
            "realisation": result.realisation,
            "note": note,
            "created_by": actor,
        }
        query = sql.SQL("INSERT INTO measure_verification ({}) VALUES ({}) RETURNING *").format(
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        [stored] = await _rows(conn, query, list(row.values()))
        await audit.record(
            conn,
            actor=actor,
            action="verify",
            entity="measure",
            entity_id=str(measure_id),
            before=None,
            after=stored,
        )
    return stored


async def _baselines(
    conn: AsyncConnection[Any], *, kind: MvSubject, ids: list[str]
) -> list[mv.BaselineFigure]:
    found = {
        r["subject_id"]: r for r in await _rows(conn, _BASELINES, {"kind": kind.value, "ids": ids})
    }
    lacking = [i for i in ids if i not in found]
    if lacking:
        raise ApiError(
            409,
            f"no current baseline for {kind} {lacking[0]!r}: record one (POST /v1/baselines)",
        )
    regression = [i for i in ids if found[i]["method"] != "base_year"]
    if regression:
        # A regression baseline's figure depends on its drivers in the period; M&V here uses
        # base-year figures only.
        raise ApiError(
            409, f"the baseline of {kind} {regression[0]!r} is a regression: M&V needs base_year"
        )
    return [
        mv.BaselineFigure(
            i,
            found[i]["baseline_id"],
            mv.PeriodKind(found[i]["period_kind"]),
            found[i]["value_tco2e"],
        )
        for i in ids
    ]


async def verifications(
    conn: AsyncConnection[Any], *, measure_id: int, tenant: str | None
) -> list[Row]:
    await get(conn, measure_id=measure_id, tenant=tenant)
    return await _rows(
        conn,
        "SELECT * FROM measure_verification WHERE measure_id = %s ORDER BY verification_id",
        (measure_id,),
    )


async def ranking(
    conn: AsyncConnection[Any], *, tenant: str | None, enterprise_id: str | None
) -> list[tuple[mv.Ranked, Row]]:
    """The open measures (proposed, approved, in progress) ranked by ``accounting.measures.rank``:
    tCO2e/year per 10^4 CNY capex, those without capex after them."""
    found = await _rows(
        conn,
        f"SELECT r.* FROM measure r WHERE {_TENANT} AND r.status = ANY(%(status)s)"  # noqa: S608
        " AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)",
        {"tenant": tenant, "status": [s.value for s in OPEN_STATES], "enterprise": enterprise_id},
    )
    by_id = {r["record_id"]: r for r in found}
    ranked = mv.rank(
        mv.Opportunity(r["record_id"], r["expected_tco2e_per_year"], r["capex_cny"]) for r in found
    )
    return [(r, by_id[r.measure_id]) for r in ranked]
