"""The inputs of a management review (clause 9.5.1), gathered from the platform.

The gatherer is a list of providers (``PROVIDERS``), each answering one item of 9.5.1 with a
``ReviewInput`` (tables and notes). The figures are the platform's own: emissions and target
attainment come from the review report's computation (``api.reports.review.review``, as
``GET /v1/reports/review`` serves it), energy from the report's ``energy`` (GB/T 2589, as
``GET /v1/energy`` sums it), tickets from the ticket table. Registers are read through the
register catalogue (``api.registers.catalogue.find``): a register this platform does not keep
yet (obligations, compliance evaluations, internal audits, measures...) reads "none recorded",
and is gathered without a change here once its ``SPEC`` joins the catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from accounting.report_period import ReportPeriod
from api.management_reviews.models import InputCell, InputTable, ReviewInput
from api.registers import service as registers
from api.registers.catalogue import find
from api.reports import review as review_report
from api.reports.models import ReviewReport
from api.reports.service import daily_outputs, energy, scope_of
from api.reports.tables import Table, tables
from store import reports as store
from store.reports import ParkInfo

NONE_RECORDED = "none recorded"


@dataclass
class Context:
    """What a review covers; the review report is computed once and shared by its providers."""

    park: ParkInfo
    enterprise_id: str | None  # None: the park's review (every enterprise)
    period: ReportPeriod
    review_id: int | None  # None: a review not stored yet
    now: datetime
    _report: ReviewReport | None = field(default=None, repr=False)

    async def report(self, conn: AsyncConnection[Any]) -> ReviewReport:
        if self._report is None:
            self._report = await review_report.review(
                conn,
                park=self.park,
                enterprise_id=self.enterprise_id,
                period=self.period,
                now=self.now,
            )
        return self._report

    def owns(self, row: dict[str, Any]) -> bool:
        """Whether a register record is in the review's scope: the park's review reads every
        record of the park, an enterprise's review its own enterprise's."""
        if row["park_id"] != self.park.park_id:
            return False
        return self.enterprise_id is None or row["enterprise_id"] == self.enterprise_id


Gather = Callable[[AsyncConnection[Any], Context], Awaitable[tuple[list[InputTable], list[str]]]]


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    clause: str
    title: str
    gather: Gather

    async def __call__(self, conn: AsyncConnection[Any], ctx: Context) -> ReviewInput:
        found, notes = await self.gather(conn, ctx)
        recorded = any(t.rows for t in found)
        if not recorded and not notes:
            notes = [NONE_RECORDED]
        return ReviewInput(
            key=self.key,
            clause=self.clause,
            title=self.title,
            recorded=recorded,
            notes=notes,
            tables=found,
        )


def cell(value: Any) -> InputCell:
    """A JSON scalar: dates as ISO text, enums as their value, a non-finite float as null."""
    if isinstance(value, Enum):
        return cell(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def as_input(table: Table, name: str | None = None) -> InputTable:
    return InputTable(
        name=name or table.name,
        columns=list(table.columns),
        rows=[[cell(c) for c in row] for row in table.rows],
    )


def report_tables(report: BaseModel, names: Sequence[str]) -> list[InputTable]:
    """The named tables of a report (``api.reports.tables``), in the order asked."""
    by_name = {t.name: t for t in tables(report)}
    return [as_input(by_name[n]) for n in names if n in by_name]


async def emissions_trends(
    conn: AsyncConnection[Any], ctx: Context
) -> tuple[list[InputTable], list[str]]:
    report = await ctx.report(conn)
    found = report_tables(
        report,
        ["summary", "trends", "by_enterprise", "by_source_category", "projection_annual_tco2e"],
    )
    return found, [report.projection.note, *report.notes]


async def energy_trends(
    conn: AsyncConnection[Any], ctx: Context
) -> tuple[list[InputTable], list[str]]:
    """The period's energy in tce beside the same span one year earlier (GB/T 2589-2020)."""
    found: list[InputTable] = []
    for label, period in (("period", ctx.period), ("year_before", ctx.period.year_before())):
        groups = await store.window_groups(
            conn, scope=scope_of(ctx.park, ctx.enterprise_id, period)
        )
        used = energy(groups, daily_outputs(groups), ctx.park.tce_electricity_convention)
        for t in tables(used):
            found.append(as_input(t, f"{label}_{t.name}"))
    return found, []


async def target_attainment(
    conn: AsyncConnection[Any], ctx: Context
) -> tuple[list[InputTable], list[str]]:
    return report_tables(await ctx.report(conn), ["targets", "baselines"]), []


async def monitoring(
    conn: AsyncConnection[Any], ctx: Context
) -> tuple[list[InputTable], list[str]]:
    report = await ctx.report(conn)
    return report_tables(report, ["monitoring_by_enterprise", "monitoring_rejects_by_reason"]), []


_TICKET_SCOPE = """
FROM ticket t
WHERE ((t.enterprise_id IN (SELECT enterprise_id FROM enterprise WHERE park_id = %(park)s)
        AND (%(enterprise)s::text IS NULL OR t.enterprise_id = %(enterprise)s))
       OR (t.enterprise_id IS NULL AND %(enterprise)s::text IS NULL
           AND t.subject_kind = 'park' AND t.subject_id = %(park)s))
  AND t.opened_at < (%(end)s::date::timestamp AT TIME ZONE %(tz)s)
"""
_TICKET_COUNTS = (
    "SELECT t.state, t.kind, t.source_kind, count(*),"
    " count(*) FILTER (WHERE t.opened_at >= (%(start)s::date::timestamp AT TIME ZONE %(tz)s))"
    + _TICKET_SCOPE
    + " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)


async def nonconformities(
    conn: AsyncConnection[Any], ctx: Context
) -> tuple[list[InputTable], list[str]]:
    """Tickets opened up to the period's end by state, kind and source (alerts, audits,
    evaluations, complaints, reviews, observations), and the alerts and action status of the
    review report."""
    params = {
        "park": ctx.park.park_id,
        "enterprise": ctx.enterprise_id,
        "start": ctx.period.start,
        "end": ctx.period.end,
        "tz": ctx.park.timezone,
    }
    rows = await (await conn.execute(_TICKET_COUNTS, params)).fetchall()
    counts = InputTable(
        name="tickets_by_state_kind_source",
        columns=["state", "kind", "source_kind", "tickets", "opened_in_period"],
        rows=[[r[0], r[1], r[2], int(r[3]), int(r[4])] for r in rows],
    )
    report = await ctx.report(conn)
    found = [
        counts,
        *report_tables(report, ["nonconformities", "actions_by_state", "actions_open_tickets"]),
    ]
    return found, []


_PREVIOUS = """
SELECT o.review_id, r.held_on, o.position, o.kind, o.title, o.owner, o.due_on, o.ticket_id,
       t.state
FROM management_review_output o
JOIN management_review r ON r.review_id = o.review_id
LEFT JOIN ticket t ON t.ticket_id = o.ticket_id
WHERE r.state = 'closed' AND r.park_id = %(park)s
  AND r.enterprise_id IS NOT DISTINCT FROM %(enterprise)s
  AND (%(review)s::bigint IS NULL OR r.review_id <> %(review)s)
ORDER BY r.held_on, o.review_id, o.position
LIMIT 1000
"""


async def previous_actions(
    conn: AsyncConnection[Any], ctx: Context
) -> tuple[list[InputTable], list[str]]:
    """The outputs of the earlier closed reviews of the same park or enterprise: each with its
    due date (passed or not, at the review's date) and its ticket's state."""
    params = {"park": ctx.park.park_id, "enterprise": ctx.enterprise_id, "review": ctx.review_id}
    rows = await (await conn.execute(_PREVIOUS, params)).fetchall()
    today = ctx.now.date()
    table = InputTable(
        name="previous_review_outputs",
        columns=[
            "review_id",
            "held_on",
            "position",
            "kind",
            "title",
            "owner",
            "due_on",
            "due_passed",
            "ticket_id",
            "ticket_state",
        ],
        rows=[
            [r[0], cell(r[1]), r[2], r[3], r[4], r[5], cell(r[6]), r[6] < today, r[7], r[8]]
            for r in rows
        ],
    )
    return [table], []


def register_input(*names: str) -> Gather:
    """The active records of the registers ``names`` that the review's scope holds; a register
    this platform does not keep yet is "none recorded" with the reason."""

    async def gather(
        conn: AsyncConnection[Any], ctx: Context
    ) -> tuple[list[InputTable], list[str]]:
        found: list[InputTable] = []
        notes: list[str] = []
        for name in names:
            spec = find(name)
            if spec is None:
                notes.append(f"{name}: {NONE_RECORDED} (the platform keeps no {name} register)")
                continue
            rows = [
                r
                for r in await registers.export_rows(conn, spec, tenant=ctx.enterprise_id)
                if r["status"] == "active" and ctx.owns(r)
            ]
            found.append(
                InputTable(
                    name=spec.sheet,
                    columns=list(spec.columns),
                    rows=[[cell(r[c]) for c in spec.columns] for r in rows],
                )
            )
            if not rows:
                notes.append(f"{name}: {NONE_RECORDED}")
        return found, notes

    return gather


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "previous_actions",
        "9.5.1 a",
        "Status of actions from previous management reviews",
        previous_actions,
    ),
    Provider(
        "context_changes",
        "9.5.1 b",
        "External and internal issues; needs and expectations of interested parties",
        register_input("context_issue", "interested_party"),
    ),
    Provider(
        "emissions_trends",
        "9.5.1 c, f, i",
        "Greenhouse gas emissions and their trend against the year before",
        emissions_trends,
    ),
    Provider(
        "energy_trends",
        "9.5.1 c, i",
        "Energy consumption (tce) against the year before",
        energy_trends,
    ),
    Provider(
        "target_attainment",
        "9.5.1 h",
        "Extent to which objectives and targets have been met",
        target_attainment,
    ),
    Provider(
        "nonconformities",
        "9.5.1 c 1",
        "Nonconformities and corrective actions (tickets, alerts by cause)",
        nonconformities,
    ),
    Provider("monitoring", "9.5.1 c 2", "Monitoring and measurement results", monitoring),
    Provider(
        "compliance",
        "9.5.1 c 4",
        "Fulfilment of compliance obligations and results of their evaluation",
        register_input("obligation", "compliance_evaluation"),
    ),
    Provider("audit_results", "9.5.1 c 3", "Audit results", register_input("internal_audit")),
    Provider(
        "risks_and_opportunities",
        "9.5.1 b, d",
        "Changes in risks and opportunities; opportunities for continual improvement",
        register_input("risk"),
    ),
    Provider(
        "measures",
        "9.5.1 j",
        "Implementation and effect of the carbon management measures (reduction measures)",
        register_input("measure"),
    ),
)


async def gather(
    conn: AsyncConnection[Any], ctx: Context, providers: Sequence[Provider] = PROVIDERS
) -> list[ReviewInput]:
    """Every provider's input, in order."""
    return [await provider(conn, ctx) for provider in providers]
