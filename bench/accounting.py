"""Throughput of the accounting hot path: validate -> intervals -> hourly windows -> CO2e.

Generates (seeded) a park of cumulative electricity meters read every 15 minutes, with a few
faults per meter (duplicates, a late reading, NaN, a backward glitch, a spike, a gap, register
rollovers), then times only the processing, one meter batch at a time on one core, as a stream
worker would run it. Prints one JSON line: readings/s, peak RSS in MB, readings, seconds.

    .venv/bin/python -m bench.accounting [--meters 1000] [--readings 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, date, datetime

import numpy as np
from numpy.typing import NDArray

from accounting.carriers import Carrier
from accounting.co2e import co2e_tonnes, resolve_factor
from accounting.factor_rows import Series
from accounting.factors import load_catalogue
from accounting.gwp import GwpSet
from accounting.intervals import meter_intervals, window_sums
from accounting.meter import DAY_MS, HOUR_MS, MeterProfile, MeterState, RegisterKind
from accounting.metering import MeteringLevel
from accounting.reasons import QUARANTINE_MASK
from accounting.validation import validate

QUARTER_MS = 15 * 60 * 1000
T0 = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp() * 1000)
ROLLOVER = 1_000_000.0  # a six-digit kWh register


def generate(
    meters: int, readings: int, seed: int
) -> tuple[list[MeterProfile], NDArray[np.int64], NDArray[np.float64]]:
    """Profiles and (meters x readings) timestamp and register arrays, with injected faults."""
    rng = np.random.default_rng(seed)
    multiplier = rng.choice([1.0, 40.0, 120.0, 400.0], size=meters)  # CT x PT ratios
    mean_kw = rng.lognormal(np.log(300.0), 1.0, size=meters)
    # 15-minute polls, a few seconds of jitter: some intervals cross an hour boundary
    ts = T0 + np.arange(readings, dtype=np.int64) * QUARTER_MS
    ts = ts + rng.integers(-3_000, 3_000, size=(meters, readings))
    hour_of_day = (np.arange(readings) % 96) / 4.0
    shape = 0.6 + 0.4 * np.sin((hour_of_day - 6.0) / 24.0 * 2 * np.pi)  # day/night load
    kw = mean_kw[:, None] * shape[None, :] * rng.uniform(0.8, 1.2, size=(meters, readings))
    register_kwh = kw * 0.25 / multiplier[:, None]
    values = np.cumsum(register_kwh, axis=1) + rng.uniform(0, ROLLOVER, size=(meters, 1))
    values %= ROLLOVER

    rows = np.arange(meters)
    for _ in range(2):  # faults at random positions: a handful per meter
        at = rng.integers(2, readings - 2, size=meters)
        ts[rows, at] = ts[rows, at - 1]  # duplicate timestamp (redelivered poll)
        at = rng.integers(2, readings - 2, size=meters)
        values[rows, at] = np.nan  # failed read
        at = rng.integers(2, readings - 2, size=meters)
        values[rows, at] = values[rows, at - 1] * 0.5  # backward glitch
        at = rng.integers(2, readings - 2, size=meters)
        values[rows, at] = (values[rows, at] + 1e4 / multiplier) % ROLLOVER  # spike
    at = rng.integers(2, readings - 2, size=meters)
    ts[rows, at], ts[rows, at + 1] = ts[rows, at + 1], ts[rows, at].copy()  # late reading
    gap_at = rng.integers(2, readings - 10, size=meters)
    ts += np.where(np.arange(readings)[None, :] >= gap_at[:, None], 2 * HOUR_MS, 0)  # outage

    profiles = [
        MeterProfile(
            meter_id=f"m{i:05d}",
            carrier=Carrier.ELECTRICITY,
            unit="kWh",
            register=RegisterKind.CUMULATIVE,
            expected_interval_ms=QUARTER_MS,
            accuracy_class=str(rng.choice(["0.5S", "0.5S", "0.5S", "1.0"])),
            metering_level=MeteringLevel.SECONDARY_UNIT,
            accuracy_category="user_class_II",
            calibration_due_ms=T0 + int(rng.integers(30, 400)) * DAY_MS,
            multiplier=float(multiplier[i]),
            rollover=ROLLOVER,
            range_min=0.0,
            max_rate_per_h=float(mean_kw[i]) * 5.0,
            flatline_count=96,
            max_age_ms=400 * DAY_MS,
        )
        for i in range(meters)
    ]
    return profiles, ts, values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1_000)
    parser.add_argument("--readings", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    profiles, ts, values = generate(args.meters, args.readings, args.seed)
    factor = resolve_factor(
        load_catalogue(),
        carrier=Carrier.ELECTRICITY,
        region="CN",
        on=date(2022, 6, 30),
        series=Series.MEE_NBS_GRID_AVERAGE,
        gwp_set=GwpSet.AR5,
    )
    now_ms = int(ts.max()) + 60_000

    tonnes = 0.0
    quarantined = 0
    windows = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i, profile in enumerate(profiles):
        result = validate(profile, MeterState(), ts[i], values[i], now_ms=now_ms)
        intervals = meter_intervals(profile, result)
        hourly = window_sums(
            intervals.start_ms, intervals.end_ms, intervals.quantity, HOUR_MS, flags=intervals.flags
        )
        tco2e = co2e_tonnes(hourly.quantity, factor)
        tonnes += float(tco2e.sum())
        quarantined += int(np.count_nonzero(result.reasons & QUARANTINE_MASK))
        windows += hourly.start_ms.shape[0]
    seconds = time.perf_counter() - wall0
    cpu_seconds = time.process_time() - cpu0

    readings = args.meters * args.readings
    print(
        f"meters={args.meters} quarantined={quarantined} windows={windows} "
        f"tco2e={tonnes:.1f} cpu_seconds={cpu_seconds:.3f} "
        f"factor={factor.tco2e_per_unit:g} t/kWh ({','.join(factor.versions)})",
        file=sys.stderr,
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    print(
        json.dumps(
            {
                "readings_per_s": round(readings / seconds),
                "peak_rss_mb": round(peak_mb, 1),
                "readings": readings,
                "seconds": round(seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
