"""Carbon management targets and progress against them (clause 6.2, monitored per 9.1 a).

A target is absolute (tCO2e over its period) or an intensity (tCO2e per output unit); a stored
target may set both limits (``Limits``), and is then met only when both are (``all_met``). Progress
extrapolates an absolute target linearly in time from the elapsed share of the period; for a
seasonal projection use ``trend.project_trend`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from accounting.categories import AccountingMethod
from accounting.intensity import OutputUnit, intensity


class TargetKind(StrEnum):
    ABSOLUTE = "absolute"  # tCO2e over the period
    INTENSITY = "intensity"  # tCO2e per output unit over the period


class TargetError(ValueError):
    """An ill-formed target or progress request."""


@dataclass(frozen=True, slots=True)
class Target:
    """A limit for one subject over [start, end) on one accounting basis."""

    subject: str
    kind: TargetKind
    start: date
    end: date  # exclusive
    limit: float  # tCO2e, or tCO2e per output unit
    output_unit: OutputUnit | None = None
    method: AccountingMethod = AccountingMethod.LOCATION

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise TargetError(f"{self.subject}: target period {self.start}..{self.end} is empty")
        if self.limit < 0:
            raise TargetError(f"{self.subject}: negative target {self.limit}")
        if (self.kind is TargetKind.INTENSITY) != (self.output_unit is not None):
            raise TargetError(
                f"{self.subject}: an intensity target, and only it, has an output unit"
            )


@dataclass(frozen=True, slots=True)
class Progress:
    target: Target
    as_of: date
    elapsed_fraction: float  # share of the target period elapsed, 0..1
    actual: float  # tCO2e so far, or intensity so far
    projected: float  # end-of-period tCO2e (linear), or intensity so far
    used_fraction: float  # actual / limit for absolute; projected / limit for intensity
    on_track: bool  # projected <= limit


def progress(target: Target, *, as_of: date, tco2e: float, output: float | None = None) -> Progress:
    """Progress of ``target`` on ``as_of`` given emissions (and output) since its start."""
    if as_of <= target.start:
        raise TargetError(f"{target.subject}: progress on {as_of} is before the period starts")
    elapsed = min(1.0, (as_of - target.start).days / (target.end - target.start).days)
    if target.kind is TargetKind.ABSOLUTE:
        actual, projected = tco2e, tco2e / elapsed
        used = _share(actual, target.limit)
    else:
        if output is None or target.output_unit is None:
            raise TargetError(f"{target.subject}: an intensity target needs the output")
        actual = projected = intensity(target.subject, tco2e, output, target.output_unit).value
        used = _share(projected, target.limit)
    return Progress(target, as_of, elapsed, actual, projected, used, projected <= target.limit)


def _share(amount: float, limit: float) -> float:
    # A zero limit is met only by zero emissions; any emission uses an unbounded share of it.
    if limit > 0:
        return amount / limit
    return 0.0 if amount == 0 else float("inf")


def all_met(verdicts: Iterable[bool | None]) -> bool | None:
    """A target with several limits (absolute and intensity, clause 6.2) is met only when each
    is: False as soon as one is missed, None while one cannot be judged (an intensity without
    output) and none is missed, True when every one is met."""
    found = list(verdicts)
    if not found:
        raise TargetError("a target has at least one limit")
    if any(v is False for v in found):
        return False
    return None if any(v is None for v in found) else True


@dataclass(frozen=True, slots=True)
class Limits:
    """One target row: an absolute limit (tCO2e over the period), an intensity limit (tCO2e per
    output unit), or both, for one subject over [start, end)."""

    subject: str
    start: date
    end: date  # exclusive
    absolute: float | None = None
    intensity: float | None = None
    output_unit: OutputUnit | None = None
    method: AccountingMethod = AccountingMethod.LOCATION

    def targets(self) -> tuple[Target, ...]:
        """One ``Target`` per limit set, absolute first."""
        out = []
        if self.absolute is not None:
            out.append(
                Target(
                    self.subject,
                    TargetKind.ABSOLUTE,
                    self.start,
                    self.end,
                    self.absolute,
                    method=self.method,
                )
            )
        if self.intensity is not None:
            out.append(
                Target(
                    self.subject,
                    TargetKind.INTENSITY,
                    self.start,
                    self.end,
                    self.intensity,
                    self.output_unit,
                    self.method,
                )
            )
        if not out:
            raise TargetError(f"{self.subject}: a target needs an absolute or intensity limit")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class LimitsProgress:
    each: tuple[Progress, ...]  # one per limit, absolute first

    @property
    def on_track(self) -> bool:
        """Met only when every limit is (``all_met``)."""
        return bool(all_met(p.on_track for p in self.each))

    @property
    def missed(self) -> tuple[TargetKind, ...]:
        return tuple(p.target.kind for p in self.each if not p.on_track)


def limits_progress(
    limits: Limits, *, as_of: date, tco2e: float, output: float | None = None
) -> LimitsProgress:
    """Progress of each limit of ``limits``; the target is on track only if each one is."""
    return LimitsProgress(
        tuple(progress(t, as_of=as_of, tco2e=tco2e, output=output) for t in limits.targets())
    )
