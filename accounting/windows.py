"""A meter's window: its key, the activity and coverage summed from its readings, and its result.

Plain values shared by the worker, ``parkcarbon recompute``, the store and the wire contract
(``contracts.windows``). A window is identified by (meter, width, start) (ARCHITECTURE.md,
idempotency); its activity is the sum, over the intervals that overlap it, of each interval's
quantity times the share of the interval inside the window (clause 6.3.1 activity data).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class WindowKey:
    meter_id: str
    width_s: int
    window_start: datetime


@dataclass(frozen=True, slots=True)
class WindowSums:
    key: WindowKey
    quantity: float  # the meter's unit times its multiplier
    readings_present: float  # each interval counts by the share of it inside the window
    flags: int
    interpolated: bool


@dataclass(frozen=True, slots=True)
class WindowResult:
    key: WindowKey
    window_end: datetime
    enterprise_id: str
    source_category: str
    iso_category: str | None
    activity: float
    activity_unit: str
    gases: dict[str, float]
    tco2e: float
    gwp_set: str | None
    factor_versions: tuple[str, ...]
    readings_present: float
    readings_expected: float
    completeness: float
    flags: int
    interpolated: bool


# Windows as columns: a flush computes hundreds of thousands of windows, and an object per
# window cost more than all the arithmetic (about 12 µs a window in objects, COPY lines and
# message items). Sums, results, COPY text and messages are built a column at a time; the
# objects above are made only where a few are read one by one (the hour windows the deviation
# rules look at, tests).


@dataclass(frozen=True, slots=True)
class WindowSumColumns:
    """The sums of many windows: row ``i`` is ``WindowSums`` number ``i``."""

    meter_id: list[str]
    width_s: NDArray[np.int64]
    start_ms: NDArray[np.int64]
    quantity: NDArray[np.float64]
    readings_present: NDArray[np.float64]
    flags: NDArray[np.int64]  # the stored signed integer
    interpolated: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.meter_id)

    def select(self, rows: NDArray[np.intp]) -> WindowSumColumns:
        """The windows at ``rows`` (indices), in that order."""
        return WindowSumColumns(
            [self.meter_id[i] for i in rows.tolist()],
            self.width_s[rows],
            self.start_ms[rows],
            self.quantity[rows],
            self.readings_present[rows],
            self.flags[rows],
            self.interpolated[rows],
        )

    def rows(self) -> list[WindowSums]:
        return [
            WindowSums(WindowKey(m, w, utc(s)), q, p, f, i)
            for m, w, s, q, p, f, i in zip(
                self.meter_id,
                self.width_s.tolist(),
                self.start_ms.tolist(),
                self.quantity.tolist(),
                self.readings_present.tolist(),
                self.flags.tolist(),
                self.interpolated.tolist(),
                strict=True,
            )
        ]

    @classmethod
    def of(cls, sums: Sequence[WindowSums]) -> WindowSumColumns:
        return cls(
            [s.key.meter_id for s in sums],
            np.array([s.key.width_s for s in sums], dtype=np.int64),
            np.array([epoch_ms(s.key.window_start) for s in sums], dtype=np.int64),
            np.array([s.quantity for s in sums], dtype=np.float64),
            np.array([s.readings_present for s in sums], dtype=np.float64),
            np.array([s.flags for s in sums], dtype=np.int64),
            np.array([s.interpolated for s in sums], dtype=np.bool_),
        )


@dataclass(frozen=True, slots=True)
class ResultTerms:
    """What the results of a group of windows share: one meter's windows on one day have the
    same meter, factor and units; only the figures differ."""

    meter_id: str
    enterprise_id: str
    source_category: str
    iso_category: str | None
    activity_unit: str
    gwp_set: str | None
    factor_versions: tuple[str, ...]
    gases: tuple[str, ...]  # the gases of ``gas_t``'s columns this group has figures in


@dataclass(frozen=True, slots=True)
class WindowResults:
    """The results of many windows: row ``i`` is ``WindowResult`` number ``i``.

    ``terms[i]`` indexes ``shared``; ``gas_t[i, k]`` is the tonnes of gas ``gas_names[k]``
    (read only for the gases ``shared[terms[i]].gases`` names)."""

    width_s: NDArray[np.int64]
    start_ms: NDArray[np.int64]
    activity: NDArray[np.float64]
    tco2e: NDArray[np.float64]
    readings_present: NDArray[np.float64]
    readings_expected: NDArray[np.float64]
    completeness: NDArray[np.float64]
    flags: NDArray[np.int64]
    interpolated: NDArray[np.bool_]
    terms: NDArray[np.intp]
    shared: list[ResultTerms]
    gas_names: tuple[str, ...]
    gas_t: NDArray[np.float64]  # shape (windows, gases)

    def __len__(self) -> int:
        return int(self.width_s.shape[0])

    def rows(self, which: NDArray[np.bool_] | None = None) -> list[WindowResult]:
        """The results as objects; ``which``: only the windows where it is true."""
        picked = np.arange(len(self)) if which is None else np.flatnonzero(which)
        out = []
        gases_at = [[self.gas_names.index(g) for g in t.gases] for t in self.shared]
        for i, term, width, start, activity, tco2e, present, expected, complete, flags, x in zip(
            picked.tolist(),
            self.terms[picked].tolist(),
            self.width_s[picked].tolist(),
            self.start_ms[picked].tolist(),
            self.activity[picked].tolist(),
            self.tco2e[picked].tolist(),
            self.readings_present[picked].tolist(),
            self.readings_expected[picked].tolist(),
            self.completeness[picked].tolist(),
            self.flags[picked].tolist(),
            self.interpolated[picked].tolist(),
            strict=True,
        ):
            t = self.shared[term]
            tonnes = self.gas_t[i].tolist()
            out.append(
                WindowResult(
                    key=WindowKey(t.meter_id, width, utc(start)),
                    window_end=utc(start + width * 1000),
                    enterprise_id=t.enterprise_id,
                    source_category=t.source_category,
                    iso_category=t.iso_category,
                    activity=activity,
                    activity_unit=t.activity_unit,
                    gases={g: tonnes[k] for g, k in zip(t.gases, gases_at[term], strict=True)},
                    tco2e=tco2e,
                    gwp_set=t.gwp_set,
                    factor_versions=t.factor_versions,
                    readings_present=present,
                    readings_expected=expected,
                    completeness=complete,
                    flags=flags,
                    interpolated=x,
                )
            )
        return out

    @classmethod
    def of(cls, results: Sequence[WindowResult]) -> WindowResults:
        """Columns of result objects (tests, and callers that build results one by one)."""
        shared: dict[ResultTerms, int] = {}
        names = tuple(sorted({g for r in results for g in r.gases}))
        gas_t = np.zeros((len(results), len(names)), dtype=np.float64)
        terms = []
        for i, r in enumerate(results):
            t = ResultTerms(
                r.key.meter_id,
                r.enterprise_id,
                r.source_category,
                r.iso_category,
                r.activity_unit,
                r.gwp_set,
                tuple(r.factor_versions),
                tuple(r.gases),
            )
            terms.append(shared.setdefault(t, len(shared)))
            for g, tonnes in r.gases.items():
                gas_t[i, names.index(g)] = tonnes

        def column(name: str, dtype: type) -> NDArray[Any]:
            return np.array([getattr(r, name) for r in results], dtype=dtype)

        return cls(
            width_s=np.array([r.key.width_s for r in results], dtype=np.int64),
            start_ms=np.array([epoch_ms(r.key.window_start) for r in results], dtype=np.int64),
            activity=column("activity", np.float64),
            tco2e=column("tco2e", np.float64),
            readings_present=column("readings_present", np.float64),
            readings_expected=column("readings_expected", np.float64),
            completeness=column("completeness", np.float64),
            flags=column("flags", np.int64),
            interpolated=column("interpolated", np.bool_),
            terms=np.array(terms, dtype=np.intp),
            shared=list(shared),
            gas_names=names,
            gas_t=gas_t,
        )

    @classmethod
    def concat(cls, parts: Sequence[WindowResults]) -> WindowResults:
        """One set of columns of several (their terms and gases renumbered)."""
        if not parts:
            return cls.of([])
        if len(parts) == 1:
            return parts[0]
        names = tuple(sorted({g for p in parts for g in p.gas_names}))
        shared: list[ResultTerms] = []
        terms, gas_t = [], []
        for p in parts:
            terms.append(p.terms + len(shared))
            shared.extend(p.shared)
            wide = np.zeros((len(p), len(names)), dtype=np.float64)
            for k, g in enumerate(p.gas_names):
                wide[:, names.index(g)] = p.gas_t[:, k]
            gas_t.append(wide)

        def joined(name: str) -> NDArray[Any]:
            return np.concatenate([getattr(p, name) for p in parts])

        return cls(
            width_s=joined("width_s"),
            start_ms=joined("start_ms"),
            activity=joined("activity"),
            tco2e=joined("tco2e"),
            readings_present=joined("readings_present"),
            readings_expected=joined("readings_expected"),
            completeness=joined("completeness"),
            flags=joined("flags"),
            interpolated=joined("interpolated"),
            terms=np.concatenate(terms) if terms else np.zeros(0, dtype=np.intp),
            shared=shared,
            gas_names=names,
            gas_t=np.concatenate(gas_t) if gas_t else np.zeros((0, len(names))),
        )


@functools.lru_cache(maxsize=4096)
def utc(ms: int) -> datetime:
    """The UTC instant of epoch milliseconds (window bounds repeat: cached)."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def epoch_ms(at: datetime) -> int:
    """Epoch milliseconds of an aware instant, exactly (no float seconds in between)."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
