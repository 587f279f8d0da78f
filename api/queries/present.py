"""Progress and calibration figures from query rows: Decimal arithmetic, units named (clauses
6.2, 6.4, 9.1 c)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from api.queries.common import dec
from api.queries.enums import CALIBRATION_DUE_SOON_DAYS, CalibrationStatus


def _share(amount: Decimal, limit: Decimal) -> Decimal | None:
    # A zero limit is met only by zero emissions; any emission uses an unbounded share of it.
    if limit > 0:
        return amount / limit
    return Decimal(0) if amount == 0 else None


def absolute(limit: float, tco2e: Decimal, elapsed: Decimal) -> dict[str, Any]:
    cap = Decimal(str(limit))
    projected = tco2e / elapsed if elapsed > 0 else None
    return {
        "limit": {"value": dec(cap), "unit": "tCO2e"},
        "actual": {"value": dec(tco2e), "unit": "tCO2e"},
        "used_share": dec(_share(tco2e, cap)),
        "projected": None if projected is None else {"value": dec(projected), "unit": "tCO2e"},
        "on_track": None if projected is None else projected <= cap,
    }


def intensity(limit: float, unit: str, tco2e: Decimal, output: Decimal | None) -> dict[str, Any]:
    cap = Decimal(str(limit))
    per = f"tCO2e/{unit}"
    # An intensity to date is its own projection (clause 6.4); without output there is none.
    actual = tco2e / output if output is not None and output > 0 else None
    quantity = None if actual is None else {"value": dec(actual), "unit": per}
    return {
        "limit": {"value": dec(cap), "unit": per},
        "actual": quantity,
        "used_share": None if actual is None else dec(_share(actual, cap)),
        "projected": quantity,
        "on_track": None if actual is None else actual <= cap,
    }


def calibration(due: Any, today: Any) -> CalibrationStatus:
    if due is None:
        return CalibrationStatus.UNKNOWN
    if due < today:
        return CalibrationStatus.OVERDUE
    if due < today + timedelta(days=CALIBRATION_DUE_SOON_DAYS):
        return CalibrationStatus.DUE_SOON
    return CalibrationStatus.OK
