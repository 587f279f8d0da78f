"""Management-review inputs (clause 9.5.1) from the data: status of actions (tickets, 10.1),
performance trends, nonconformities by cause (9.1 b), monitoring results and target attainment.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from psycopg import AsyncConnection

from accounting.report import figures
from accounting.report_compare import compare_baseline, compare_target
from accounting.report_period import ReportPeriod, next_month
from accounting.trend import MIN_MONTHS, TrendError, project_trend
from api.reports.models import (
    Actions,
    CauseRow,
    MonthRow,
    Projection,
    ReviewReport,
    TicketRow,
    Totals,
)
from api.reports.service import (
    ResidualMix,
    Step,
    daily_outputs,
    period_out,
    quality,
    quiet,
    scope_of,
)
from store import reports as store
from store.reports import ParkInfo, Scope

AUDIT_RESULTS = (
    "Not recorded by the platform: internal and external audit results (9.5.1) come from the "
    "audit programme; the audit log (clause 7.3) records who changed what."
)
REVIEW_STEPS = 5  # calls of ``step`` per review, for a progress bar
_TREND_MONTHS = 36  # the history read for the projection (the fit needs MIN_MONTHS of it)

# Tickets and alerts of the scope: its enterprises, and park-wide ones for a park-wide review.
_IN_SCOPE = """(
    ({t}.enterprise_id IN (SELECT enterprise_id FROM enterprise WHERE park_id = %(park)s)
     AND (%(enterprise)s::text IS NULL OR {t}.enterprise_id = %(enterprise)s))
    OR ({t}.enterprise_id IS NULL AND %(enterprise)s::text IS NULL
        AND {t}.subject_kind = 'park' AND {t}.subject_id = %(park)s))"""
_LO = "(%(start)s::date::timestamp AT TIME ZONE %(tz)s)"
_HI = "(%(end)s::date::timestamp AT TIME ZONE %(tz)s)"
_ALERTS = f"""
SELECT a.cause, a.rule, count(*), count(*) FILTER (WHERE a.state <> 'RESOLVED')
FROM alert a
WHERE {_IN_SCOPE.format(t="a")} AND a.first_window_start < {_HI} AND a.window_end > {_LO}
GROUP BY 1, 2
"""  # noqa: S608 - built from the constants above
_TICKET_CAUSES = f"""
SELECT coalesce(t.cause_category, t.suggested_cause), t.rule, count(*)
FROM ticket t
WHERE {_IN_SCOPE.format(t="t")} AND t.opened_at >= {_LO} AND t.opened_at < {_HI}
  AND t.source_kind = 'alert'  -- by deviation rule: only alert tickets have one
GROUP BY 1, 2
"""  # noqa: S608 - built from the constants above
_TICKET_STATES = f"""
SELECT t.state, count(*),
       count(*) FILTER (WHERE t.opened_at >= {_LO}),
       count(*) FILTER (WHERE t.closed_at >= {_LO} AND t.closed_at < {_HI}),
       count(*) FILTER (WHERE t.dismissed_at >= {_LO} AND t.dismissed_at < {_HI})
FROM ticket t
WHERE {_IN_SCOPE.format(t="t")} AND t.opened_at < {_HI}
GROUP BY 1 ORDER BY 1
"""  # noqa: S608 - built from the constants above
_OPEN_TICKETS = f"""
SELECT t.ticket_id, t.title, t.state, t.enterprise_id,
       coalesce(t.cause_category, t.suggested_cause), t.opened_at,
       extract(epoch FROM now() - t.opened_at) / 86400,
       count(a.action_id) FILTER (WHERE a.done_at IS NULL),
       count(a.action_id) FILTER (WHERE a.done_at IS NULL AND a.due_at < now()),
       min(a.due_at) FILTER (WHERE a.done_at IS NULL)
FROM ticket t LEFT JOIN ticket_action a ON a.ticket_id = t.ticket_id
WHERE {_IN_SCOPE.format(t="t")} AND t.state NOT IN ('closed', 'dismissed')
  AND t.opened_at < {_HI}
GROUP BY t.ticket_id ORDER BY t.opened_at, t.ticket_id
LIMIT 500
"""  # noqa: S608 - built from the constants above


async def _rows(conn: AsyncConnection[Any], sql: str, scope: Scope) -> list[tuple[Any, ...]]:
    return await (await conn.execute(sql, scope.params())).fetchall()


async def actions(conn: AsyncConnection[Any], *, scope: Scope) -> Actions:
    """Where the corrective actions stand (9.5.1 a), from the tickets of the scope."""
    states = await _rows(conn, _TICKET_STATES, scope)
    tickets = [
        TicketRow(
            ticket_id=r[0],
            title=r[1],
            state=r[2],
            enterprise_id=r[3],
            cause=r[4],
            opened_at=r[5],
            age_days=float(r[6]),
            actions_open=int(r[7]),
            actions_overdue=int(r[8]),
            next_due=r[9],
        )
        for r in await _rows(conn, _OPEN_TICKETS, scope)
    ]
    return Actions(
        by_state={r[0]: int(r[1]) for r in states},
        opened_in_period=sum(int(r[2]) for r in states),
        closed_in_period=sum(int(r[3]) for r in states),
        dismissed_in_period=sum(int(r[4]) for r in states),
        actions_overdue=sum(t.actions_overdue for t in tickets),
        open_tickets=tickets,
    )


async def nonconformities(conn: AsyncConnection[Any], *, scope: Scope) -> list[CauseRow]:
    """Alerts raised and tickets opened in the period, by cause category and rule (9.1 b)."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for cause, rule, n, still_open in await _rows(conn, _ALERTS, scope):
        counts[(cause, rule)][0] += int(n)
        counts[(cause, rule)][1] += int(still_open)
    for cause, rule, n in await _rows(conn, _TICKET_CAUSES, scope):
        counts[(cause, rule)][2] += int(n)
    return [
        CauseRow(cause=c, rule=r, alerts=v[0], open_alerts=v[1], tickets=v[2])
        for (c, r), v in sorted(counts.items())
    ]


async def projection(conn: AsyncConnection[Any], *, scope: Scope) -> Projection:
    """The seasonal trend and peak path (6.3.1) from up to three years of monthly totals."""
    first = scope.end.replace(day=1)
    for _ in range(_TREND_MONTHS):
        first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    history = await store.monthly_tco2e(
        conn, scope=Scope(scope.park_id, scope.timezone, scope.enterprise_id, first, scope.end)
    )
    months = dict(history)
    series, month = [], min(months) if months else scope.end
    while months and month <= max(months):
        series.append(months.get(month, 0.0))
        month = next_month(month)
    try:
        trend = project_trend(
            np.asarray(series, dtype=np.float64), min(months or {scope.end: 0}), years_ahead=3
        )
    except TrendError as exc:
        return Projection(
            available=False,
            note=f"{len(series)} months of data up to the period's end; {exc} "
            f"(at least {MIN_MONTHS} months)",
        )
    return Projection(
        available=True,
        note="location-based monthly totals, projected three calendar years ahead",
        method=trend.method,
        growth_rate_per_year=trend.growth_rate_per_year,
        peak_year=trend.peak_year,
        annual_tco2e=dict(trend.annual_tco2e),
    )


async def review(
    conn: AsyncConnection[Any],
    *,
    park: ParkInfo,
    enterprise_id: str | None,
    period: ReportPeriod,
    now: datetime | None = None,
    step: Step = quiet,
) -> ReviewReport:
    """The management-review inputs of clause 9.5.1 for the park (or one enterprise).

    ``step`` is called ``REVIEW_STEPS`` times, once before each stage, naming it.
    """
    scope = scope_of(park, enterprise_id, period)
    step("reading hourly windows")
    groups = await store.window_groups(conn, scope=scope)
    figs = figures(groups, residual=ResidualMix(park.region))
    step("monthly trend against the year before")
    before = scope_of(park, enterprise_id, period.year_before())
    earlier = dict(await store.monthly_tco2e(conn, scope=before))
    trends = []
    for row in figs.by_month:
        month = date.fromisoformat(row.key)
        previous = earlier.get(date(month.year - 1, month.month, 1))
        trends.append(
            MonthRow(
                month=month,
                location_tco2e=row.location_tco2e,
                market_tco2e=row.market_tco2e,
                year_before_tco2e=previous,
                change_share=(row.location_tco2e - previous) / previous if previous else None,
            )
        )
    outputs = daily_outputs(groups)
    step("status of actions and nonconformities")
    status, causes = await actions(conn, scope=scope), await nonconformities(conn, scope=scope)
    step("trend projection")
    projected = await projection(conn, scope=scope)
    step("monitoring results, targets and baselines")
    return ReviewReport(
        park_id=park.park_id,
        park_name=park.name,
        enterprise_id=enterprise_id,
        period=period_out(period, park.timezone),
        generated_at=now or datetime.now(UTC),
        actions=status,
        trends=trends,
        projection=projected,
        nonconformities=causes,
        monitoring=await quality(conn, scope=scope, groups=groups),
        totals=Totals(
            location_tco2e=figs.location_tco2e,
            market_tco2e=figs.market_tco2e,
            removals_tco2=figs.removals_tco2,
        ),
        by_enterprise=list(figs.by_enterprise),
        by_source_category=list(figs.by_category),
        targets=[
            compare_target(t, period, figs.by_day, outputs)
            for t in await store.targets(conn, scope=scope)
        ],
        baselines=[
            compare_baseline(b, period, figs.by_day)
            for b in await store.baselines(conn, scope=scope)
        ],
        audit_results=AUDIT_RESULTS,
        notes=list(figs.notes),
    )
