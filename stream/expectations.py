"""What each window was expected of: targets prorated to it, baselines, intensity limits (6.2,
6.4, 6.5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from accounting.intensity import OutputUnit
from accounting.prorating import PeriodKind, prorate_target
from accounting.window_figures import Expectation, SubjectKind, WindowFigures
from store.targets import TargetRow, read_baselines, read_targets

_PERIOD_RANK = {"day": 0, "month": 1, "year": 2}  # the finest period that covers a window wins


def expectations_for(
    conn: psycopg.Connection[Any], figures: list[WindowFigures]
) -> list[Expectation]:
    """One expectation per window: the finest location-based target period covering it,
    prorated by time in the park's local calendar; the intensity limit of the finest
    location-based target covering it (a ratio, tCO2e per output unit: not prorated); and the
    subject's current baseline."""
    subjects = {
        (f.subject_kind.value, f.subject_id)
        for f in figures
        if f.subject_kind is not SubjectKind.PARK
    }
    lo = min(datetime.fromtimestamp(f.window_start_ms / 1000, UTC).date() for f in figures)
    hi = max(datetime.fromtimestamp(f.window_end_ms / 1000, UTC).date() for f in figures)
    targets = read_targets(
        conn, subjects=subjects, overlapping=(lo - timedelta(days=1), hi + timedelta(days=1))
    )
    baselines = read_baselines(conn, subjects=subjects)
    zones = dict(
        conn.execute(
            "SELECT e.enterprise_id, p.timezone FROM enterprise e JOIN park p USING (park_id)"
        ).fetchall()
    )
    out = []
    for f in figures:
        zone = zones.get(f.enterprise_id or "", "Asia/Shanghai")
        covering = sorted(
            (
                t
                for t in targets
                if (t.subject_kind, t.subject_id) == (f.subject_kind.value, f.subject_id)
                and t.absolute_tco2e is not None
                and t.method == "location_based"
                and _covers(t.period_start, t.period_end, f, zone)
            ),
            key=lambda t: _PERIOD_RANK[t.period_kind],
        )
        target = (
            prorate_target(
                covering[0].absolute_tco2e or 0.0,
                period=PeriodKind(covering[0].period_kind),
                period_start=covering[0].period_start,
                timezone=zone,
                window_start_ms=f.window_start_ms,
                window_end_ms=f.window_end_ms,
            )
            if covering
            else None
        )
        limit = _intensity_limit(targets, f, zone)
        base = baselines.get((f.subject_kind.value, f.subject_id))
        baseline = None
        if base is not None:
            day = datetime.fromtimestamp(f.window_start_ms / 1000, UTC).date()
            start = {
                "day": day,
                "month": day.replace(day=1),
                "year": day.replace(month=1, day=1),
            }[base.period_kind]
            baseline = prorate_target(
                base.value_tco2e,
                period=PeriodKind(base.period_kind),
                period_start=start,
                timezone=zone,
                window_start_ms=f.window_start_ms,
                window_end_ms=f.window_end_ms,
            )
        out.append(
            Expectation(
                target_tco2e=target,
                intensity_target=limit[0] if limit else None,
                intensity_unit=limit[1] if limit else None,
                baseline_tco2e=baseline,
                baseline_factor_versions=tuple(base.factor_versions) if base else None,
            )
        )
    return out


def _intensity_limit(
    targets: list[TargetRow], f: WindowFigures, zone: str
) -> tuple[float, OutputUnit] | None:
    """The intensity limit a window is held to: the finest period covering it wins, and of two
    limits on the same period (one per output unit) the one per tonne of product, so each
    window is judged against exactly one limit (the alert key has no unit)."""
    covering = sorted(
        (
            t
            for t in targets
            if (t.subject_kind, t.subject_id) == (f.subject_kind.value, f.subject_id)
            and t.intensity is not None
            and t.intensity_unit is not None
            and t.method == "location_based"
            and _covers(t.period_start, t.period_end, f, zone)
        ),
        key=lambda t: (
            _PERIOD_RANK[t.period_kind],
            list(OutputUnit).index(OutputUnit(t.intensity_unit or "")),
        ),
    )
    if not covering or covering[0].intensity is None or covering[0].intensity_unit is None:
        return None
    return covering[0].intensity, OutputUnit(covering[0].intensity_unit)


def _covers(start: date, end: date, f: WindowFigures, zone: str) -> bool:
    local = datetime.fromtimestamp(f.window_start_ms / 1000, ZoneInfo(zone)).date()
    return start <= local < end
