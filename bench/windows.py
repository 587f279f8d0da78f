"""The window path's CPU per window, stage by stage, without a stack; one JSON line.

    .venv/bin/python -m bench.windows [--meters 2000] [--readings-per-meter 300] [--repeat 5]

The in-process part of a worker's window flush on the data of ``bench.stream``'s backlog:
``--meters`` meters (half electricity in kWh, half natural gas in Nm3, ten enterprises) with a
reading every 15 s, every 1-, 5-, 15-minute and hour window of that span due at once. Stages,
as ``stream.window_sink`` runs them: the interval sums (``accounting.intervals``, from columns
as ``store.windows`` reads them), the CO2e results (``EmissionCalculator.results``), the texts
of the figures (``contracts.windows.window_texts``), the table's COPY text
(``store.windows.window_copy_text``), the ``emissions.windows`` messages and the hour windows
as objects for the deviation rules. The database's and Kafka's share is not here
(``bench.stream`` measures the whole). Figures: median over ``--repeat`` runs of the process
CPU time per window of each stage, and the total per window and per reading.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from accounting.gwp import GwpSet
from accounting.intervals import keyed_window_sums
from accounting.meter import HOUR_MS
from accounting.window_co2e import EmissionCalculator
from accounting.windows import WindowSumColumns
from contracts.windows import encode_windows, window_texts
from store.registry import Meter
from store.windows import window_copy_text

WIDTHS_S = (60, 300, 900, 3600)
SPACING_MS = 15_000


def _meters(n: int) -> dict[str, Meter]:
    return {
        f"E-{i:05d}": Meter(
            meter_id=f"E-{i:05d}",
            enterprise_id=f"ent-{i % 10:02d}",
            carrier="electricity" if i % 2 else "natural_gas",
            unit="kWh" if i % 2 else "Nm3",
            register_kind="cumulative",
            source_category="purchased_electricity" if i % 2 else "stationary_combustion",
            expected_interval_s=SPACING_MS // 1000,
        )
        for i in range(n)
    }


def run(meters: int, per_meter: int, repeat: int) -> dict[str, Any]:
    park = _meters(meters)
    ids = list(park)
    t0 = 1_764_500_000_000 // HOUR_MS * HOUR_MS
    rng = np.random.default_rng(17)
    group = np.repeat(np.arange(meters), per_meter).astype(np.int64)
    start = np.tile(t0 + np.arange(per_meter) * SPACING_MS, meters).astype(np.int64)
    end = start + SPACING_MS
    quantity = rng.random(meters * per_meter) * 10
    flags = np.zeros(meters * per_meter, dtype=np.uint32)
    span_end = t0 + per_meter * SPACING_MS
    due = [
        (m, w, s)
        for m in ids
        for w in WIDTHS_S
        for s in range(t0 // (w * 1000) * w * 1000, span_end, w * 1000)
    ]
    index = {m: k for k, m in enumerate(ids)}
    window_group = np.array([index[m] for m, _, _ in due], dtype=np.int64)
    width_s = np.array([w for _, w, _ in due], dtype=np.int64)
    window_start = np.array([s for _, _, s in due], dtype=np.int64)
    meter_ids = [m for m, _, _ in due]
    stages: dict[str, list[float]] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        began = time.process_time()
        out = step()
        stages.setdefault(name, []).append(time.process_time() - began)
        return out

    def one_round() -> None:
        calculator = EmissionCalculator(region="CN-JS", gwp_set=GwpSet.AR5)  # caches cold
        sums = timed(
            "sums",
            lambda: keyed_window_sums(
                group,
                start,
                end,
                quantity,
                flags,
                window_group,
                window_start,
                window_start + width_s * 1000,
            ),
        )
        columns = WindowSumColumns(
            meter_ids,
            width_s,
            window_start,
            sums.quantity,
            sums.present,
            sums.flags.view(np.int32).astype(np.int64),
            sums.interpolated,
        )
        results = timed("results", lambda: calculator.results(columns, park))
        texts = timed("texts", lambda: window_texts(results))
        timed("copy_text", lambda: window_copy_text(results, texts))
        timed("messages", lambda: list(encode_windows(results, texts=texts)))
        timed("hour_objects", lambda: results.rows(results.width_s == 3600))

    for _ in range(repeat):
        one_round()
    n = len(due)
    out: dict[str, Any] = {
        f"{name}_us_per_window": round(statistics.median(v) / n * 1e6, 3)
        for name, v in stages.items()
    }
    total = statistics.median([sum(v[k] for v in stages.values()) for k in range(repeat)])
    out["total_us_per_window"] = round(total / n * 1e6, 3)
    out["total_us_per_reading"] = round(total / (meters * per_meter) * 1e6, 3)
    out["windows"] = n
    out["windows_per_reading"] = round(n / (meters * per_meter), 3)
    out["repeat"] = repeat
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--readings-per-meter", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = run(args.meters, args.readings_per_meter, args.repeat)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
