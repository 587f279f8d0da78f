"""The park's Grafana dashboards, as grafana-foundation-sdk builders (issue 7.1).

Each dashboard is built by one function returning a ``Board``: the dashboard builder plus, for
every SQL target, what its panel needs back (``Expectation``), keyed by (panel id, refId), so the
tests can run every query against a real database and check exactly that.
"""

# The SQL here is dashboard text built from constants, never executed with outside input:
# Grafana substitutes its variables (quoted by its SQL datasource) when a panel runs.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import bargauge, heatmap, piechart, stat, table, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    GraphDrawStyle,
    HeatmapCellLayout,
)

from deploy.grafana import queries as q
from deploy.grafana import sql as s

REFRESH = "1m"
TAGS = ["parkcarbon"]
PanelBuilder = (
    stat.Panel | timeseries.Panel | table.Panel | piechart.Panel | bargauge.Panel | heatmap.Panel
)


def _park_variable() -> QueryVariable:
    return (
        QueryVariable("park")
        .label("Park")
        .datasource(q.postgres_ref())
        .query("SELECT park_id AS __value, name AS __text FROM park ORDER BY name")
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(False)
        .include_all(False)
    )


def _enterprise_variable() -> QueryVariable:
    return (
        QueryVariable("enterprise")
        .label("Enterprise")
        .datasource(q.postgres_ref())
        .query(
            "SELECT enterprise_id AS __value, name AS __text FROM enterprise "
            "WHERE park_id = '$park' ORDER BY name"
        )
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def _thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


@dataclass
class Board:
    uid: str
    title: str
    description: str
    variables: tuple[QueryVariable, ...]
    time_from: str = "now-24h"
    dashboard: Dashboard = field(init=False)
    expectations: dict[tuple[int, str], q.Expectation] = field(default_factory=dict)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self.dashboard = (
            Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(TAGS)
            .refresh(REFRESH)
            .time(self.time_from, "now")
            .timezone("browser")
            .readonly()
        )
        for variable in self.variables:
            self.dashboard.with_variable(variable)

    def row(self, title: str) -> None:
        self._next_id += 1
        self.dashboard.with_row(Row(title).id(self._next_id))

    def add(
        self,
        panel: PanelBuilder,
        *targets: q.SqlQuery | cogbuilder.Builder[cogvariants.Dataquery],
        w: int,
        h: int = 8,
    ) -> None:
        self._next_id += 1
        panel.id(self._next_id).span(w).height(h)
        if all(isinstance(t, q.SqlQuery) for t in targets):
            panel.datasource(q.postgres_ref())
        else:
            panel.datasource(q.prometheus_ref())
        for index, target in enumerate(targets):
            ref = chr(ord("A") + index)
            if isinstance(target, q.SqlQuery):
                target.ref(ref)
                self.expectations[(self._next_id, ref)] = target.expectation()
            panel.with_target(target)
        self.dashboard.with_panel(panel)


def _stat(title: str, unit: str, description: str = "") -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .unit(unit)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(_last_not_null())
    )
    if description:
        panel.description(description)
    return panel


def _last_not_null() -> Any:
    from grafana_foundation_sdk.builders.common import ReduceDataOptions

    return ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def _series_panel(title: str, unit: str, *, interval: str | None = "1h") -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).fill_opacity(10).line_width(1)
    if interval is not None:
        panel.interval(interval)
    return panel


def _table(title: str) -> table.Panel:
    return table.Panel().title(title)


TCO2E = "suffix: tCO2e"


# --- Park overview ---------------------------------------------------------------------------


def park_overview() -> Board:
    board = Board(
        "parkcarbon-park-overview",
        "Park overview",
        "CO2e now, today, this month and this year against target and baseline; by source "
        "category and enterprise; intensity; open alerts and tickets. Days are the park's.",
        (_park_variable(),),
    )
    board.row("CO2e against plan")
    board.add(
        _stat(
            "CO2e, rolling hour",
            TCO2E,
            "Gross tCO2e of the last hour of 5-minute windows, ending at the latest window.",
        ),
        q.table(
            f"""
WITH last AS (
  SELECT max(w.window_end) AS t FROM emission_window w
  WHERE w.width_s = 300 AND w.window_end > now() - interval '1 day'
    AND w.enterprise_id IN ({s.PARK_ENTERPRISES}))
SELECT coalesce(sum(w.tco2e), 0) AS "tCO2e"
FROM last
LEFT JOIN counted_window w
  ON w.width_s = 300 AND w.window_start >= last.t - interval '1 hour' AND w.window_end <= last.t
 AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
""",
            "tCO2e",
        ),
        w=6,
        h=5,
    )
    for kind, title in (("day", "today"), ("month", "this month"), ("year", "this year")):
        board.add(
            _stat(f"CO2e {title}", TCO2E, f"Gross tCO2e since the start of the park's {kind}."),
            q.table(s.period_total(kind), "tCO2e"),
            w=6,
            h=5,
        )
    board.add(
        _table("Against target and baseline").description(
            "Each period's CO2e so far, the target of the finest period that covers it "
            "(prorated by days) and the current baseline (head of its restatement chain, "
            "prorated by days)."
        ),
        q.table(
            f"""
WITH clock AS ({s.CLOCK}),
periods AS (
  SELECT k.period, k.ord,
         date_trunc(k.kind, c.local_now) AT TIME ZONE c.tz AS starts,
         date_trunc(k.kind, c.local_now)::date AS local_start,
         (date_trunc(k.kind, c.local_now) + ('1 ' || k.kind)::interval)::date AS local_end
  FROM clock c,
       (VALUES ('Today', 1, 'day'), ('This month', 2, 'month'), ('This year', 3, 'year'))
         AS k(period, ord, kind)),
actual AS (
  SELECT pr.period, coalesce(sum(w.tco2e), 0) AS tco2e
  FROM periods pr
  LEFT JOIN counted_window w
    ON w.width_s = 3600 AND w.window_start >= pr.starts
   AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
  GROUP BY pr.period)
SELECT pr.period AS "Period",
       a.tco2e AS "CO2e",
       tg.v AS "Target",
       bl.v AS "Baseline",
       a.tco2e / nullif(tg.v, 0) AS "Of target",
       a.tco2e / nullif(bl.v, 0) AS "Of baseline"
FROM periods pr
JOIN actual a USING (period)
LEFT JOIN LATERAL (
  SELECT t.absolute_tco2e * (least(t.period_end, pr.local_end)
                             - greatest(t.period_start, pr.local_start))::float8
         / (t.period_end - t.period_start) AS v
  FROM target t
  WHERE t.subject_kind = 'park' AND t.subject_id = {s.PARK} AND t.method = 'location_based'
    AND t.absolute_tco2e IS NOT NULL
    AND t.period_start <= pr.local_start AND t.period_end >= pr.local_end
  ORDER BY {s.FINEST_FIRST} LIMIT 1) tg ON true
LEFT JOIN LATERAL (
  SELECT b.value_tco2e * (pr.local_end - pr.local_start)::float8
         / ((date_trunc(b.period_kind, pr.local_start::timestamp)
             + ('1 ' || b.period_kind)::interval)::date
            - date_trunc(b.period_kind, pr.local_start::timestamp)::date) AS v
  FROM baseline b
  WHERE b.subject_kind = 'park' AND b.subject_id = {s.PARK} AND b.effective <= pr.local_start
    AND NOT EXISTS (SELECT 1 FROM baseline n WHERE n.recalculated_from = b.baseline_id)
  ORDER BY b.effective DESC, b.baseline_id DESC LIMIT 1) bl ON true
ORDER BY pr.ord
""",
            "Period",
            "CO2e",
            "Target",
            "Baseline",
            "Of target",
            "Of baseline",
        ),
        w=24,
        h=6,
    )
    board.row("Where it comes from")
    board.add(
        _series_panel("CO2e by source category", TCO2E),
        q.series(
            f"""
SELECT $__timeGroupAlias(w.window_start, $__interval), w.source_category AS metric,
       sum(w.tco2e) AS "tCO2e"
FROM counted_window w
WHERE w.width_s = 3600 AND $__timeFilter(w.window_start)
  AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=16,
    )
    board.add(
        piechart.Panel().title("Today by source category").unit(TCO2E),
        q.table(
            f"""
WITH clock AS ({s.CLOCK})
SELECT w.source_category AS "Source category", sum(w.tco2e) AS "tCO2e"
FROM clock c
JOIN counted_window w
  ON w.width_s = 3600 AND w.window_start >= date_trunc('day', c.local_now) AT TIME ZONE c.tz
WHERE w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
GROUP BY 1
ORDER BY 2 DESC
""",
            "Source category",
            "tCO2e",
        ),
        w=8,
    )
    board.add(
        _series_panel("CO2e by enterprise", TCO2E),
        q.series(
            f"""
SELECT $__timeGroupAlias(w.window_start, $__interval), e.name AS metric, sum(w.tco2e) AS "tCO2e"
FROM counted_window w
JOIN enterprise e ON e.enterprise_id = w.enterprise_id
WHERE w.width_s = 3600 AND $__timeFilter(w.window_start) AND e.park_id = {s.PARK} AND {s.GROSS}
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=16,
    )
    board.add(
        bargauge.Panel().title("Today by enterprise").unit(TCO2E),
        q.table(
            f"""
WITH clock AS ({s.CLOCK})
SELECT e.name AS "Enterprise", coalesce(sum(w.tco2e), 0) AS "tCO2e"
FROM clock c
CROSS JOIN enterprise e
LEFT JOIN counted_window w
  ON w.enterprise_id = e.enterprise_id AND w.width_s = 3600
 AND w.window_start >= date_trunc('day', c.local_now) AT TIME ZONE c.tz AND {s.GROSS}
WHERE e.park_id = {s.PARK}
GROUP BY e.name
ORDER BY 2 DESC
""",
            "Enterprise",
            "tCO2e",
        ),
        w=8,
    )
    board.add(
        _table("Intensity this month").description(
            "Gross tCO2e per tonne of product (production-output meters) since the start of "
            "the park's month, and the intensity target covering the month (t product)."
        ),
        q.table(
            f"""
WITH clock AS ({s.CLOCK}),
span AS (
  SELECT date_trunc('month', c.local_now) AT TIME ZONE c.tz AS starts,
         date_trunc('month', c.local_now)::date AS local_start,
         (date_trunc('month', c.local_now) + interval '1 month')::date AS local_end
  FROM clock c)
SELECT e.name AS "Enterprise",
       coalesce(sum(w.tco2e) FILTER (WHERE {s.GROSS}), 0) AS "CO2e",
       sum(w.activity) FILTER (WHERE m.carrier = 'production_output' AND w.activity_unit = 't')
         AS "Output",
       sum(w.tco2e) FILTER (WHERE {s.GROSS})
         / nullif(sum(w.activity) FILTER (WHERE m.carrier = 'production_output'
                                            AND w.activity_unit = 't'), 0) AS "Intensity",
       (SELECT t.intensity FROM target t
        WHERE t.subject_kind = 'enterprise' AND t.subject_id = e.enterprise_id
          AND t.intensity_unit = 't product' AND t.method = 'location_based'
          AND t.period_start <= span.local_start AND t.period_end >= span.local_end
        ORDER BY {s.FINEST_FIRST} LIMIT 1) AS "Target intensity"
FROM span
CROSS JOIN enterprise e
LEFT JOIN counted_window w
  ON w.enterprise_id = e.enterprise_id AND w.width_s = 3600 AND w.window_start >= span.starts
LEFT JOIN meter m ON m.meter_id = w.meter_id
WHERE e.park_id = {s.PARK}
GROUP BY e.enterprise_id, e.name, span.local_start, span.local_end
ORDER BY e.name
""",
            "Enterprise",
            "CO2e",
            "Output",
            "Intensity",
            "Target intensity",
        ),
        w=24,
        h=6,
    )
    board.add(
        _table("Energy by enterprise and carrier (tce)").description(
            "Energy consumption over the dashboard's range in tonnes of standard coal equivalent "
            "(GB/T 2589-2020): each carrier's counted activity times the catalogue coefficient "
            "in force on its local day, electricity at the park's convention (equal value or "
            "equivalent). Output, water and activity-only meters are not energy. An empty tce "
            "means some day has no coefficient: nothing is guessed."
        ),
        q.table(
            f"""
WITH clock AS ({s.CLOCK})
SELECT e.name AS "Enterprise", m.carrier AS "Carrier", sum(w.activity) AS "Activity",
       w.activity_unit AS "Unit",
       CASE WHEN bool_and(k.tce_per_unit IS NOT NULL)
            THEN sum(w.activity * k.tce_per_unit) END AS "tce"
FROM clock c
JOIN park p ON p.park_id = {s.PARK}
JOIN enterprise e ON e.park_id = p.park_id
JOIN counted_window w
  ON w.enterprise_id = e.enterprise_id AND w.width_s = 3600 AND $__timeFilter(w.window_start)
 AND {s.GROSS}
JOIN meter m ON m.meter_id = w.meter_id
{s.ENERGY_COEFFICIENT}
WHERE {s.ENERGY_CARRIER}
GROUP BY e.name, m.carrier, w.activity_unit
ORDER BY 1, 2
""",
            "Enterprise",
            "Carrier",
            "Activity",
            "Unit",
            "tce",
        ),
        w=24,
        h=8,
    )
    _comparison_and_load_shape(board)
    board.row("Deviations")
    board.add(
        _stat("Open alerts", "none").thresholds(_thresholds((None, "green"), (1, "red"))),
        q.table(
            f"""
SELECT count(*) AS "Open alerts" FROM alert a
WHERE a.state <> 'RESOLVED' AND {s.ALERT_IN_PARK}
""",
            "Open alerts",
        ),
        w=4,
        h=5,
    )
    board.add(
        _stat("Open tickets", "none").thresholds(_thresholds((None, "green"), (1, "orange"))),
        q.table(
            f"""
SELECT count(*) AS "Open tickets" FROM ticket t
WHERE {s.OPEN_TICKET} AND {s.TICKET_IN_PARK}
""",
            "Open tickets",
        ),
        w=4,
        h=5,
    )
    board.add(
        _table("Open alerts, newest first"),
        q.table(
            f"""
SELECT a.first_raised_at AS "Raised", a.rule AS "Rule",
       a.subject_kind || ' ' || a.subject_id AS "Subject",
       a.measured AS "Measured", a.expected AS "Expected", a.unit AS "Unit",
       a.cause AS "Cause", a.message AS "Message"
FROM alert a
WHERE a.state <> 'RESOLVED' AND {s.ALERT_IN_PARK}
ORDER BY a.first_raised_at DESC
LIMIT 200
""",
            "Raised",
            "Rule",
            "Subject",
            "Measured",
            "Expected",
            "Unit",
            "Cause",
            "Message",
        ),
        w=16,
        h=10,
    )
    return board


# --- Enterprise drill-down ---------------------------------------------------------------------


def enterprise_drilldown() -> Board:
    board = Board(
        "parkcarbon-enterprise",
        "Enterprise drill-down",
        "One or more enterprises: CO2e and activity, daily CO2e against target, intensity "
        "trend, meters and targets. Days are the park's.",
        (_park_variable(), _enterprise_variable()),
        time_from="now-7d",
    )
    board.row("Emissions and activity")
    board.add(
        _series_panel("CO2e", TCO2E),
        q.series(
            f"""
SELECT $__timeGroupAlias(w.window_start, $__interval), e.name AS metric, sum(w.tco2e) AS "tCO2e"
FROM counted_window w
JOIN enterprise e ON e.enterprise_id = w.enterprise_id
WHERE w.width_s = 3600 AND $__timeFilter(w.window_start)
  AND w.enterprise_id IN ($enterprise) AND {s.GROSS}
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=12,
    )
    board.add(
        _series_panel("Activity by carrier", "short"),
        q.series(
            """
SELECT $__timeGroupAlias(w.window_start, $__interval),
       m.carrier || ' (' || w.activity_unit || ')' AS metric, sum(w.activity) AS activity
FROM counted_window w
JOIN meter m ON m.meter_id = w.meter_id
WHERE w.width_s = 3600 AND $__timeFilter(w.window_start) AND w.enterprise_id IN ($enterprise)
  AND m.register_kind = 'cumulative'
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=12,
    )
    board.add(
        _series_panel("Daily CO2e against target", TCO2E, interval=None)
        .draw_style(GraphDrawStyle.BARS)
        .description(
            "CO2e per local day, and the day's share of each selected enterprise's target "
            "(the finest target period covering the day, prorated by days)."
        ),
        q.series(
            f"""
WITH clock AS ({s.CLOCK}),
days AS (
  SELECT d::date AS day
  FROM clock c,
       generate_series(($__timeFrom()::timestamptz AT TIME ZONE c.tz)::date,
                       ($__timeTo()::timestamptz AT TIME ZONE c.tz)::date,
                       interval '1 day') AS d)
SELECT d.day::timestamp AT TIME ZONE c.tz AS "time",
       (SELECT coalesce(sum(w.tco2e), 0) FROM counted_window w
        WHERE w.width_s = 3600 AND w.enterprise_id IN ($enterprise) AND {s.GROSS}
          AND w.window_start >= d.day::timestamp AT TIME ZONE c.tz
          AND w.window_start < (d.day + 1)::timestamp AT TIME ZONE c.tz) AS "CO2e",
       (SELECT sum(tt.v) FROM enterprise e
        CROSS JOIN LATERAL (
          SELECT t.absolute_tco2e / (t.period_end - t.period_start) AS v FROM target t
          WHERE t.subject_kind = 'enterprise' AND t.subject_id = e.enterprise_id
            AND t.method = 'location_based' AND t.absolute_tco2e IS NOT NULL
            AND t.period_start <= d.day AND t.period_end > d.day
          ORDER BY {s.FINEST_FIRST} LIMIT 1) tt
        WHERE e.enterprise_id IN ($enterprise)) AS "Target"
FROM clock c, days d
ORDER BY 1
"""
        ),
        w=12,
    )
    board.add(
        _series_panel("Intensity trend (daily)", "suffix: tCO2e/t", interval=None).description(
            "Gross tCO2e per tonne of product per local day."
        ),
        q.series(
            f"""
WITH clock AS ({s.CLOCK})
SELECT date_trunc('day', w.window_start AT TIME ZONE c.tz) AT TIME ZONE c.tz AS "time",
       e.name AS metric,
       sum(w.tco2e) FILTER (WHERE {s.GROSS})
         / nullif(sum(w.activity) FILTER (WHERE m.carrier = 'production_output'
                                            AND w.activity_unit = 't'), 0) AS "tCO2e/t"
FROM clock c
JOIN counted_window w ON w.width_s = 3600 AND $__timeFilter(w.window_start)
JOIN enterprise e ON e.enterprise_id = w.enterprise_id
JOIN meter m ON m.meter_id = w.meter_id
WHERE w.enterprise_id IN ($enterprise)
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=12,
    )
    board.row("Meters and targets")
    board.add(
        _table("Meters").description(
            "Each meter as measured; 'Counted as' tells how the totals take it: counted, "
            "export (deducted), sub_meter (detail of its parent), out_of_boundary."
        ),
        q.table(
            f"""
SELECT m.meter_id AS "Meter", m.name AS "Name", e.name AS "Enterprise", m.carrier AS "Carrier",
       m.source_category AS "Source category", last.ts AS "Last reading",
       agg.activity AS "Activity", agg.activity_unit AS "Unit", agg.tco2e AS "tCO2e",
       agg.completeness AS "Completeness", c.basis AS "Counted as"
FROM meter m
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
JOIN meter_count_basis c ON c.meter_id = m.meter_id
{s.LAST_READING}
LEFT JOIN LATERAL (
  SELECT sum(w.activity) AS activity, min(w.activity_unit) AS activity_unit,
         sum(w.tco2e) AS tco2e,
         sum(w.readings_present) / nullif(sum(w.readings_expected), 0) AS completeness
  FROM emission_window w
  WHERE w.meter_id = m.meter_id AND w.width_s = 3600 AND $__timeFilter(w.window_start)) agg
  ON true
WHERE m.enterprise_id IN ($enterprise) AND m.status = 'active'
ORDER BY e.name, m.meter_id
""",
            "Meter",
            "Name",
            "Enterprise",
            "Carrier",
            "Source category",
            "Last reading",
            "Activity",
            "Unit",
            "tCO2e",
            "Completeness",
            "Counted as",
        ),
        w=24,
        h=10,
    )
    board.add(
        _table("Targets in force").description(
            "Targets of the selected enterprises whose period includes the park's today, with "
            "the CO2e since the period started."
        ),
        q.table(
            f"""
WITH clock AS ({s.CLOCK})
SELECT e.name AS "Enterprise", t.period_kind AS "Period", t.period_start AS "Starts",
       t.method AS "Method", t.absolute_tco2e AS "Target",
       act.tco2e AS "CO2e so far", act.tco2e / nullif(t.absolute_tco2e, 0) AS "Of target",
       t.intensity AS "Intensity target", t.intensity_unit AS "Intensity unit"
FROM clock c
JOIN target t ON t.period_start <= c.local_now::date AND t.period_end > c.local_now::date
JOIN enterprise e ON t.subject_kind = 'enterprise' AND e.enterprise_id = t.subject_id
LEFT JOIN LATERAL (
  SELECT coalesce(sum(w.tco2e), 0) AS tco2e FROM counted_window w
  WHERE w.enterprise_id = e.enterprise_id AND w.width_s = 3600 AND {s.GROSS}
    AND w.window_start >= t.period_start::timestamp AT TIME ZONE c.tz) act ON true
WHERE e.enterprise_id IN ($enterprise)
ORDER BY e.name, {s.FINEST_FIRST}
""",
            "Enterprise",
            "Period",
            "Starts",
            "Method",
            "Target",
            "CO2e so far",
            "Of target",
            "Intensity target",
            "Intensity unit",
        ),
        w=24,
        h=7,
    )
    return board


# --- Meter health and data quality ---------------------------------------------------------------


def meter_health() -> Board:
    board = Board(
        "parkcarbon-meter-health",
        "Meter health and data quality",
        "Completeness, quarantined readings by reason, quality flags, stale meters, "
        "calibration due and overdue, and the gateways' store-and-forward buffers.",
        (_park_variable(), _enterprise_variable()),
    )
    board.row("Data quality")
    board.add(
        _stat("Completeness", "percentunit").thresholds(
            _thresholds((None, "red"), (0.9, "orange"), (0.98, "green"))
        ),
        q.table(
            """
SELECT sum(w.readings_present) / nullif(sum(w.readings_expected), 0) AS "Completeness"
FROM emission_window w
WHERE w.width_s = 3600 AND $__timeFilter(w.window_start) AND w.enterprise_id IN ($enterprise)
""",
            "Completeness",
        ),
        w=6,
        h=5,
    )
    board.add(
        _stat("Quarantined readings", "none"),
        q.table(
            """
SELECT count(*) AS "Quarantined" FROM rejected_reading rr
LEFT JOIN meter m ON m.meter_id = rr.meter_id
WHERE $__timeFilter(rr.rejected_at) AND (m.enterprise_id IN ($enterprise) OR m.meter_id IS NULL)
""",
            "Quarantined",
        ),
        w=6,
        h=5,
    )
    board.add(
        _stat("Stale meters", "none").thresholds(_thresholds((None, "green"), (1, "red"))),
        q.table(
            f"""
SELECT count(*) AS "Stale meters" FROM meter m
{s.LAST_READING}
WHERE m.status = 'active' AND m.enterprise_id IN ($enterprise) AND {s.STALE}
""",
            "Stale meters",
        ),
        w=6,
        h=5,
    )
    board.add(
        _stat("Calibration overdue", "none").thresholds(_thresholds((None, "green"), (1, "red"))),
        q.table(
            f"""
WITH clock AS ({s.CLOCK})
SELECT count(*) AS "Overdue" FROM clock c, meter m
WHERE m.status = 'active' AND m.enterprise_id IN ($enterprise)
  AND m.calibration_due < c.local_now::date
""",
            "Overdue",
        ),
        w=6,
        h=5,
    )
    board.add(
        _series_panel("Completeness by enterprise", "percentunit").max(1).min(0),
        q.series(
            """
SELECT $__timeGroupAlias(w.window_start, $__interval), e.name AS metric,
       sum(w.readings_present) / nullif(sum(w.readings_expected), 0) AS completeness
FROM emission_window w
JOIN enterprise e ON e.enterprise_id = w.enterprise_id
WHERE w.width_s = 3600 AND $__timeFilter(w.window_start) AND w.enterprise_id IN ($enterprise)
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=12,
    )
    board.add(
        _series_panel("Quarantined readings by reason", "none", interval="5m").draw_style(
            GraphDrawStyle.BARS
        ),
        q.series(
            """
SELECT $__timeGroupAlias(rr.rejected_at, $__interval), rr.reason AS metric,
       count(*) AS quarantined
FROM rejected_reading rr
LEFT JOIN meter m ON m.meter_id = rr.meter_id
WHERE $__timeFilter(rr.rejected_at) AND (m.enterprise_id IN ($enterprise) OR m.meter_id IS NULL)
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=12,
    )
    flag_columns = ",\n       ".join(
        f'count(*) FILTER (WHERE r.flags & {bit} <> 0) AS "{name}"' for name, bit in s.FLAGS
    )
    board.add(
        _series_panel("Accepted readings and quality flags", "none", interval="5m"),
        q.series(
            f"""
SELECT $__timeGroupAlias(r.ts, $__interval), count(*) AS "accepted",
       {flag_columns}
FROM reading r
JOIN meter m ON m.meter_id = r.meter_id
WHERE $__timeFilter(r.ts) AND m.enterprise_id IN ($enterprise)
GROUP BY 1
ORDER BY 1
"""
        ),
        w=12,
    )
    board.add(
        _table("Quarantine reasons in the range"),
        q.table(
            """
SELECT rr.reason AS "Reason", count(*) AS "Readings", count(DISTINCT rr.meter_id) AS "Meters",
       max(rr.rejected_at) AS "Last"
FROM rejected_reading rr
LEFT JOIN meter m ON m.meter_id = rr.meter_id
WHERE $__timeFilter(rr.rejected_at) AND (m.enterprise_id IN ($enterprise) OR m.meter_id IS NULL)
GROUP BY rr.reason
ORDER BY 2 DESC
""",
            "Reason",
            "Readings",
            "Meters",
            "Last",
        ),
        w=12,
    )
    board.row("Meters")
    board.add(
        _table("Silent meters").description(
            "Active meters with no accepted reading for three expected intervals (at least "
            "three minutes), or none ever."
        ),
        q.table(
            f"""
SELECT m.meter_id AS "Meter", e.name AS "Enterprise", m.carrier AS "Carrier",
       last.ts AS "Last reading", extract(epoch FROM now() - last.ts) AS "Silent for",
       m.expected_interval_s AS "Expected interval"
FROM meter m
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
{s.LAST_READING}
WHERE m.status = 'active' AND m.enterprise_id IN ($enterprise) AND {s.STALE}
ORDER BY last.ts NULLS FIRST, m.meter_id
""",
            "Meter",
            "Enterprise",
            "Carrier",
            "Last reading",
            "Silent for",
            "Expected interval",
        ),
        w=12,
        h=9,
    )
    board.add(
        _table("Calibration due and overdue").description(
            "Active meters whose calibration falls due within 30 days of the park's today, or "
            "is past due (their readings carry the CALIBRATION_OVERDUE flag)."
        ),
        q.table(
            f"""
WITH clock AS ({s.CLOCK})
SELECT m.meter_id AS "Meter", e.name AS "Enterprise", m.carrier AS "Carrier",
       m.accuracy_class AS "Accuracy class", m.calibration_due AS "Calibration due",
       m.calibration_due - c.local_now::date AS "Days left",
       CASE WHEN m.calibration_due < c.local_now::date THEN 'overdue' ELSE 'due' END AS "Status"
FROM clock c
CROSS JOIN meter m
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
WHERE m.status = 'active' AND m.enterprise_id IN ($enterprise)
  AND m.calibration_due <= c.local_now::date + 30
ORDER BY m.calibration_due, m.meter_id
""",
            "Meter",
            "Enterprise",
            "Carrier",
            "Accuracy class",
            "Calibration due",
            "Days left",
            "Status",
        ),
        w=12,
        h=9,
    )
    board.row("Gateways")
    board.add(
        _series_panel("Gateway buffer depth", "short", interval=None).description(
            "Readings waiting in each gateway's store-and-forward buffer (Prometheus metric "
            "gateway_buffer_readings; the database never sees them until they are forwarded)."
        ),
        q.promql("sum by (instance) (gateway_buffer_readings)", "{{instance}}"),
        w=12,
    )
    board.add(
        _series_panel("Oldest buffered reading", "s", interval=None),
        q.promql("max by (instance) (gateway_buffer_oldest_age_seconds)", "{{instance}}"),
        w=12,
    )
    return board


# --- Alerts and corrective actions ---------------------------------------------------------------


def alerts_and_actions() -> Board:
    board = Board(
        "parkcarbon-alerts-actions",
        "Alerts and corrective actions",
        "Open tickets by state and age, overdue corrective actions, time to close, and the "
        "alerts behind them (clauses 9.1 b, 10.1).",
        (_park_variable(), _enterprise_variable()),
        time_from="now-30d",
    )
    board.row("Now")
    board.add(
        _stat("Open tickets", "none"),
        q.table(
            f"""
SELECT count(*) AS "Open tickets" FROM ticket t
WHERE {s.OPEN_TICKET} AND {s.TICKET_IN_SELECTION}
""",
            "Open tickets",
        ),
        w=6,
        h=5,
    )
    board.add(
        _stat("Overdue actions", "none").thresholds(_thresholds((None, "green"), (1, "red"))),
        q.table(
            f"""
SELECT count(*) AS "Overdue actions" FROM ticket_action ac
JOIN ticket t ON t.ticket_id = ac.ticket_id
WHERE ac.done_at IS NULL AND ac.due_at < now() AND {s.OPEN_TICKET} AND {s.TICKET_IN_SELECTION}
""",
            "Overdue actions",
        ),
        w=6,
        h=5,
    )
    board.add(
        _stat("Median time to close", "s", "Tickets closed in the time range."),
        q.table(
            f"""
SELECT percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM t.closed_at - t.opened_at)) AS "Median time to close"
FROM ticket t
WHERE t.state = 'closed' AND $__timeFilter(t.closed_at) AND {s.TICKET_IN_SELECTION}
""",
            "Median time to close",
        ),
        w=6,
        h=5,
    )
    board.add(
        _stat("Open alerts", "none"),
        q.table(
            f"""
SELECT count(*) AS "Open alerts" FROM alert a
WHERE a.state <> 'RESOLVED' AND {s.ALERT_IN_SELECTION}
""",
            "Open alerts",
        ),
        w=6,
        h=5,
    )
    board.add(
        bargauge.Panel().title("Open tickets by state and age").unit("none"),
        q.table(
            f"""
SELECT st.state AS "State",
       count(t.ticket_id) FILTER (WHERE t.opened_at > now() - interval '1 day') AS "< 1 day",
       count(t.ticket_id) FILTER (WHERE t.opened_at <= now() - interval '1 day'
                                    AND t.opened_at > now() - interval '7 days') AS "1-7 days",
       count(t.ticket_id) FILTER (WHERE t.opened_at <= now() - interval '7 days'
                                    AND t.opened_at > now() - interval '30 days') AS "7-30 days",
       count(t.ticket_id) FILTER (WHERE t.opened_at <= now() - interval '30 days')
         AS "> 30 days"
FROM (VALUES (1, 'open'), (2, 'contained'), (3, 'cause_identified'),
             (4, 'action_in_progress'), (5, 'effectiveness_check')) AS st(ord, state)
LEFT JOIN ticket t ON t.state = st.state AND {s.TICKET_IN_SELECTION}
GROUP BY st.ord, st.state
ORDER BY st.ord
""",
            "State",
            "< 1 day",
            "1-7 days",
            "7-30 days",
            "> 30 days",
        ),
        w=12,
    )
    board.add(
        _series_panel("Tickets opened and closed", "none", interval="1h").draw_style(
            GraphDrawStyle.BARS
        ),
        q.series(
            f"""
SELECT $__timeGroupAlias(ev.at, $__interval), ev.kind AS metric, count(*) AS tickets
FROM (SELECT t.opened_at AS at, 'opened' AS kind FROM ticket t WHERE {s.TICKET_IN_SELECTION}
      UNION ALL
      SELECT t.closed_at, 'closed' FROM ticket t
      WHERE t.closed_at IS NOT NULL AND {s.TICKET_IN_SELECTION}) ev
WHERE $__timeFilter(ev.at)
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=12,
    )
    board.row("Tickets")
    board.add(
        _table("Open tickets, oldest first"),
        q.table(
            f"""
SELECT t.ticket_id AS "Ticket", t.state AS "State", t.title AS "Title",
       coalesce(e.name, 'park-wide') AS "Enterprise", t.opened_at AS "Opened",
       extract(epoch FROM now() - t.opened_at) AS "Age",
       count(ac.action_id) FILTER (WHERE ac.done_at IS NULL) AS "Actions open",
       count(ac.action_id) FILTER (WHERE ac.done_at IS NULL AND ac.due_at < now())
         AS "Actions overdue"
FROM ticket t
LEFT JOIN enterprise e ON e.enterprise_id = t.enterprise_id
LEFT JOIN ticket_action ac ON ac.ticket_id = t.ticket_id
WHERE {s.OPEN_TICKET} AND {s.TICKET_IN_SELECTION}
GROUP BY t.ticket_id, t.state, t.title, e.name, t.opened_at
ORDER BY t.opened_at
""",
            "Ticket",
            "State",
            "Title",
            "Enterprise",
            "Opened",
            "Age",
            "Actions open",
            "Actions overdue",
        ),
        w=24,
        h=9,
    )
    board.add(
        _table("Overdue corrective actions"),
        q.table(
            f"""
SELECT t.ticket_id AS "Ticket", ac.description AS "Action", ac.owner AS "Owner",
       ac.due_at AS "Due", extract(epoch FROM now() - ac.due_at) AS "Overdue by",
       t.state AS "Ticket state"
FROM ticket_action ac
JOIN ticket t ON t.ticket_id = ac.ticket_id
WHERE ac.done_at IS NULL AND ac.due_at < now() AND {s.OPEN_TICKET} AND {s.TICKET_IN_SELECTION}
ORDER BY ac.due_at
""",
            "Ticket",
            "Action",
            "Owner",
            "Due",
            "Overdue by",
            "Ticket state",
        ),
        w=12,
        h=8,
    )
    board.add(
        _table("Time to close by rule").description("Tickets closed in the time range."),
        q.table(
            f"""
SELECT t.rule AS "Rule", count(*) AS "Closed",
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.closed_at - t.opened_at))
         AS "Median",
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM t.closed_at - t.opened_at))
         AS "90th percentile",
       max(extract(epoch FROM t.closed_at - t.opened_at)) AS "Longest"
FROM ticket t
WHERE t.state = 'closed' AND $__timeFilter(t.closed_at) AND {s.TICKET_IN_SELECTION}
GROUP BY t.rule
ORDER BY 2 DESC
""",
            "Rule",
            "Closed",
            "Median",
            "90th percentile",
            "Longest",
        ),
        w=12,
        h=8,
    )
    board.add(
        _series_panel("Alerts raised by rule", "none", interval="1h").draw_style(
            GraphDrawStyle.BARS
        ),
        q.series(
            f"""
SELECT $__timeGroupAlias(a.first_raised_at, $__interval), a.rule AS metric, count(*) AS alerts
FROM alert a
WHERE $__timeFilter(a.first_raised_at) AND {s.ALERT_IN_PARK}
GROUP BY 1, 2
ORDER BY 1
"""
        ),
        w=24,
    )
    return board


# Hour-of-day columns of the load-shape heatmap: one numeric field per park-local hour.
_HOURS = ",\n       ".join(
    f"sum(w.tco2e) FILTER (WHERE extract(hour FROM w.window_start AT TIME ZONE c.tz) = {h})"
    f' AS "{h:02d}"'
    for h in range(24)
)


def _comparison_and_load_shape(board: Board) -> None:
    """Year on year (同比) and month on month (环比) of today, this month and this year so far,
    each against the same span of the park's calendar a year and a month earlier (as
    ``/v1/emissions?compare=``); daily CO2e beside the same days a year earlier; and the
    hour-of-day x day heatmap of the load shape (as ``/v1/heatmap``)."""
    board.row("Compared and load shape")
    board.add(
        _table("Year on year and month on month").description(
            "Gross counted tCO2e of today, this month and this year up to now, beside the same "
            "span of the park's calendar one year (year on year) and one month (month on month) "
            "earlier, with the change as a share of the earlier figure."
        ),
        q.table(
            f"""
WITH clock AS ({s.CLOCK}),
spans AS (
  SELECT k.period, k.ord, e.shift, c.tz,
         date_trunc(k.kind, c.local_now) - e.back AS local_from, c.local_now - e.back AS local_to
  FROM clock c,
       (VALUES ('Today', 1, 'day'), ('This month', 2, 'month'), ('This year', 3, 'year'))
         AS k(period, ord, kind),
       (VALUES ('now', interval '0'), ('yoy', interval '1 year'), ('mom', interval '1 month'))
         AS e(shift, back)),
sums AS (
  SELECT sp.period, sp.ord, sp.shift, coalesce(sum(w.tco2e), 0) AS tco2e
  FROM spans sp
  LEFT JOIN counted_window w
    ON w.width_s = 3600 AND w.window_start >= sp.local_from AT TIME ZONE sp.tz
   AND w.window_start < sp.local_to AT TIME ZONE sp.tz
   AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
  GROUP BY sp.period, sp.ord, sp.shift)
SELECT period AS "Period",
       sum(tco2e) FILTER (WHERE shift = 'now') AS "CO2e",
       sum(tco2e) FILTER (WHERE shift = 'yoy') AS "A year earlier",
       (sum(tco2e) FILTER (WHERE shift = 'now') - sum(tco2e) FILTER (WHERE shift = 'yoy'))
         / nullif(abs(sum(tco2e) FILTER (WHERE shift = 'yoy')), 0) AS "Year on year",
       sum(tco2e) FILTER (WHERE shift = 'mom') AS "A month earlier",
       (sum(tco2e) FILTER (WHERE shift = 'now') - sum(tco2e) FILTER (WHERE shift = 'mom'))
         / nullif(abs(sum(tco2e) FILTER (WHERE shift = 'mom')), 0) AS "Month on month"
FROM sums
GROUP BY period, ord
ORDER BY ord
""",
            "Period",
            "CO2e",
            "A year earlier",
            "Year on year",
            "A month earlier",
            "Month on month",
        ),
        w=24,
        h=6,
    )
    board.add(
        _series_panel("CO2e per day and a year earlier", TCO2E, interval=None)
        .draw_style(GraphDrawStyle.BARS)
        .description(
            "Gross counted tCO2e per park-local day over the dashboard's range, and the same "
            "days one year earlier drawn at this year's dates."
        ),
        q.series(
            f"""
WITH clock AS ({s.CLOCK}),
days AS (
  SELECT date_trunc('day', w.window_start AT TIME ZONE c.tz) AS local_day,
         'This period' AS metric, w.tco2e
  FROM clock c
  JOIN counted_window w
    ON w.width_s = 3600 AND $__timeFilter(w.window_start)
   AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
  UNION ALL
  SELECT date_trunc('day', w.window_start AT TIME ZONE c.tz) + interval '1 year',
         'A year earlier', w.tco2e
  FROM clock c
  JOIN counted_window w
    ON w.width_s = 3600
   AND w.window_start >= (($__timeFrom())::timestamptz AT TIME ZONE c.tz - interval '1 year')
                         AT TIME ZONE c.tz
   AND w.window_start <= (($__timeTo())::timestamptz AT TIME ZONE c.tz - interval '1 year')
                         AT TIME ZONE c.tz
   AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS})
SELECT d.local_day AT TIME ZONE c.tz AS time, d.metric, sum(d.tco2e) AS "tCO2e"
FROM days d, clock c
GROUP BY 1, 2
ORDER BY 1, 2
"""
        ),
        w=12,
    )
    board.add(
        heatmap.Panel()
        .title("Hour of day by day")
        .description(
            "Gross counted tCO2e of each park-local hour (rows 00-23) of each local day over "
            "the dashboard's range: the load shape. Empty cells have no stored window."
        )
        .calculate(False)
        .rows_frame(heatmap.RowsHeatmapOptions().layout(HeatmapCellLayout.GE).value("tCO2e"))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Greens")
            .scale(heatmap_model.HeatmapColorScale.LINEAR)
            .steps(64)
        )
        .cell_values(heatmap.CellValues().unit(TCO2E))
        .y_axis(heatmap.YAxisConfig().reverse(True)),
        q.series(
            f"""
WITH clock AS ({s.CLOCK})
SELECT date_trunc('day', w.window_start AT TIME ZONE c.tz) AT TIME ZONE c.tz AS time,
       {_HOURS}
FROM clock c
JOIN counted_window w
  ON w.width_s = 3600 AND $__timeFilter(w.window_start)
 AND w.enterprise_id IN ({s.PARK_ENTERPRISES}) AND {s.GROSS}
GROUP BY 1
ORDER BY 1
"""
        ),
        w=12,
    )


BOARDS: tuple[Callable[[], Board], ...] = (
    park_overview,
    enterprise_drilldown,
    meter_health,
    alerts_and_actions,
)
