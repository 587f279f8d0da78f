"""SQL fragments the panels share.

Every query filters on the dashboard's ``$park`` (a single-value variable: Grafana inserts it
unquoted, with quotes doubled, so it is written ``'$park'``) and, where there is one, on
``$enterprise`` (multi-value with All: Grafana inserts a quoted, comma-separated list, so it is
written ``IN ($enterprise)``). Days, months and years are the park's own (``park.timezone``):
``clock`` gives the park's local time, and a local boundary becomes an instant with
``AT TIME ZONE tz``. Totals read the windows as the boundary rule counts them (view
``counted_window``, migration 0022: sub-meters and meters outside the boundary left out,
exports netted; docs/boundary.md); a meter's own figures read ``emission_window``. Totals come
from the hourly windows (``width_s = 3600``), found through the
``(width_s, window_start)`` and ``(enterprise_id, width_s, window_start)`` indexes; the views
``emission_daily`` and ``emission_rolling_hour`` aggregate over every row before a filter can
apply, so the panels compute the same figures from ``emission_window`` directly.
"""

# The SQL here is dashboard text built from constants, never executed with outside input:
# Grafana substitutes its variables (quoted by its SQL datasource) when a panel runs.
# ruff: noqa: S608

from __future__ import annotations

from accounting.reasons import Reason

PARK = "'$park'"
PARK_ENTERPRISES = "SELECT enterprise_id FROM enterprise WHERE park_id = '$park'"
CLOCK = (
    "SELECT p.timezone AS tz, now() AT TIME ZONE p.timezone AS local_now "
    "FROM park p WHERE p.park_id = '$park'"
)
# Gross emissions: not activity-only registers (power, output, water) and not sinks.
GROSS = "w.source_category NOT IN ('activity_only', 'green_space_sink')"
# The GB/T 2589 coefficient of a counted window ``w`` of meter ``m`` in park ``p`` with clock
# ``c``: the version in force on the window's local day, of the park's electricity convention
# (other carriers' rows serve both), per the unit the window is stored in. The coefficients are
# the catalogue's (table energy_coefficient, filled from accounting/data by `parkcarbon db
# migrate`): never typed into a panel. No row: the window's tce is unknown, not zero.
ENERGY_COEFFICIENT = (
    "LEFT JOIN energy_coefficient k ON k.carrier = m.carrier AND k.unit = w.activity_unit "
    "AND k.convention IN ('both', p.tce_electricity_convention) "
    "AND (w.window_start AT TIME ZONE c.tz)::date "
    "BETWEEN k.valid_from AND coalesce(k.valid_to, 'infinity')"
)
# Energy carriers (a coefficient row exists); water and outputs are not energy.
ENERGY_CARRIER = "m.carrier IN (SELECT carrier FROM energy_coefficient)"
# A target of the finest period that covers [local_start, local_end), prorated by days.
FINEST_FIRST = "array_position(ARRAY['day', 'month', 'year'], t.period_kind)"
OPEN_TICKET = "t.state NOT IN ('closed', 'dismissed')"
# Alerts and tickets of the park: its own, its enterprises', and those no enterprise owns
# (an unknown meter's), which every park's operators must see.
ALERT_IN_PARK = (
    f"((a.subject_kind = 'park' AND a.subject_id = {PARK}) "
    f"OR a.enterprise_id IN ({PARK_ENTERPRISES}) "
    "OR (a.enterprise_id IS NULL AND a.subject_kind <> 'park'))"
)
ALERT_IN_SELECTION = (
    f"((a.subject_kind = 'park' AND a.subject_id = {PARK}) "
    "OR a.enterprise_id IN ($enterprise) "
    "OR (a.enterprise_id IS NULL AND a.subject_kind <> 'park'))"
)
TICKET_IN_PARK = (
    f"((t.subject_kind = 'park' AND t.subject_id = {PARK}) "
    f"OR t.enterprise_id IN ({PARK_ENTERPRISES}) "
    "OR (t.enterprise_id IS NULL AND t.subject_kind <> 'park'))"
)
TICKET_IN_SELECTION = (
    f"((t.subject_kind = 'park' AND t.subject_id = {PARK}) "
    "OR t.enterprise_id IN ($enterprise) "
    "OR (t.enterprise_id IS NULL AND t.subject_kind <> 'park'))"
)
# The last accepted reading of a meter: a backward scan of the (meter_id, ts) primary key.
LAST_READING = (
    "LEFT JOIN LATERAL (SELECT max(r.ts) AS ts FROM reading r WHERE r.meter_id = m.meter_id) "
    "last ON true"
)
# Silent for more than three expected intervals (at least three minutes).
STALE = (
    "(last.ts IS NULL "
    "OR last.ts < now() - make_interval(secs => 3 * greatest(m.expected_interval_s, 60)))"
)

FLAGS: tuple[tuple[str, int], ...] = tuple(
    (r.name or str(r.value), int(r.value)) for r in Reason if int(r.value) >= 1 << 16
)


def period_total(kind: str) -> str:
    """Gross tCO2e of the park since the start of the local ``kind`` (day, month, year)."""
    return f"""
WITH clock AS ({CLOCK}),
span AS (SELECT date_trunc('{kind}', c.local_now) AT TIME ZONE c.tz AS starts FROM clock c)
SELECT coalesce(sum(w.tco2e), 0) AS "tCO2e"
FROM span
LEFT JOIN counted_window w
  ON w.width_s = 3600 AND w.window_start >= span.starts
 AND w.enterprise_id IN ({PARK_ENTERPRISES}) AND {GROSS}
"""
