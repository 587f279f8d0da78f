"""Measurement and verification of reduction measures (clauses 6.2.2, 6.3) and the ranking of
open opportunities (6.3.1 a), in the database; the arithmetic is ``accounting.measures``.

An M&V record compares the measure's subject - its meters, else its enterprise, else its park -
over park-local days with each subject's current base-year baseline prorated to the period, and
keeps every figure it used. The ranking orders open measures by expected tCO2e/year per 10^4 CNY
of capex, those without capex after them. ``tenant`` as in ``measures``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from accounting import measures as arithmetic
from api import audit
from api.errors import ApiError
from api.measures import flows, measures
from api.measures.enums import OPEN_STATES, MeasureState, MvSubject

Row = dict[str, Any]
_TENANT = "(%(tenant)s::text IS NULL OR r.enterprise_id = %(tenant)s)"
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
        measure = await measures.get(conn, measure_id=measure_id, tenant=tenant, lock=True)
        state = MeasureState(measure["status"])
        if state not in (MeasureState.IMPLEMENTED, MeasureState.VERIFIED):
            raise ApiError(
                409, f"a {state} measure has no savings to verify yet", allowed=flows.allowed(state)
            )
        _, today = await measures.park_today(conn, measure["park_id"])
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
        result = arithmetic.verify(
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
                "prorated_tco2e": arithmetic.prorated(
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
) -> list[arithmetic.BaselineFigure]:
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
        arithmetic.BaselineFigure(
            i,
            found[i]["baseline_id"],
            arithmetic.PeriodKind(found[i]["period_kind"]),
            found[i]["value_tco2e"],
        )
        for i in ids
    ]


async def verifications(
    conn: AsyncConnection[Any], *, measure_id: int, tenant: str | None
) -> list[Row]:
    await measures.get(conn, measure_id=measure_id, tenant=tenant)
    return await _rows(
        conn,
        "SELECT * FROM measure_verification WHERE measure_id = %s ORDER BY verification_id",
        (measure_id,),
    )


async def ranking(
    conn: AsyncConnection[Any], *, tenant: str | None, enterprise_id: str | None
) -> list[tuple[arithmetic.Ranked, Row]]:
    """The open measures (proposed, approved, in progress) ranked by ``accounting.measures.rank``:
    tCO2e/year per 10^4 CNY capex, those without capex after them."""
    found = await _rows(
        conn,
        f"SELECT r.* FROM measure r WHERE {_TENANT} AND r.status = ANY(%(status)s)"  # noqa: S608
        " AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)",
        {"tenant": tenant, "status": [s.value for s in OPEN_STATES], "enterprise": enterprise_id},
    )
    by_id = {r["record_id"]: r for r in found}
    ranked = arithmetic.rank(
        arithmetic.Opportunity(r["record_id"], r["expected_tco2e_per_year"], r["capex_cny"])
        for r in found
    )
    return [(r, by_id[r.measure_id]) for r in ranked]
