"""The ``emissions.windows`` contract (one message per enterprise and flush) and the window
upsert's COPY text, which must store exactly what the row-by-row upsert stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from accounting.windows import WindowKey, WindowResult, WindowResults
from contracts.windows import decode_windows, encode_windows
from store.windows import read_window_sums, upsert_windows
from tests.store.windows_reference import reference_window_sums, upsert_by_row

START = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _result(meter_id: str, enterprise_id: str, minute: int = 0, **changes: Any) -> WindowResult:
    start = START + timedelta(minutes=minute)
    fields: dict[str, Any] = {
        "key": WindowKey(meter_id, 60, start),
        "window_end": start + timedelta(minutes=1),
        "enterprise_id": enterprise_id,
        "source_category": "purchased_electricity",
        "iso_category": "2",
        "activity": 12.5,
        "activity_unit": "kWh",
        "gases": {"CO2": 0.0066325},
        "tco2e": 0.0066325,
        "gwp_set": "AR5",
        "factor_versions": ("grid_avg.CN@2023-01-01",),
        "readings_present": 4.0,
        "readings_expected": 4.0,
        "completeness": 1.0,
        "flags": 0,
        "interpolated": False,
    }
    fields.update(changes)
    return WindowResult(**fields)


def test_one_message_per_enterprise_keyed_by_it_with_every_window() -> None:
    results = [_result(f"E-{i}", f"ent-{i % 2}", minute=i) for i in range(5)]
    messages = list(encode_windows(WindowResults.of(results)))
    assert [key for key, _ in messages] == [b"ent-0", b"ent-1"]
    windows = {key: decode_windows(value) for key, value in messages}
    assert [w["meter_id"] for w in windows[b"ent-0"]] == ["E-0", "E-2", "E-4"]
    first = windows[b"ent-1"][0]
    assert first == {
        "meter_id": "E-1",
        "enterprise_id": "ent-1",
        "source_category": "purchased_electricity",
        "iso_category": "2",
        "width_s": 60,
        "window_start": "2026-03-01T08:01:00.000Z",
        "window_end": "2026-03-01T08:02:00.000Z",
        "activity": 12.5,
        "activity_unit": "kWh",
        "gases_t": {"CO2": 0.0066325},
        "tco2e": 0.0066325,
        "gwp_set": "AR5",
        "factor_versions": ["grid_avg.CN@2023-01-01"],
        "completeness": 1.0,
        "flags": 0,
        "interpolated": False,
    }


def test_each_item_carries_its_windows_figures_exactly() -> None:
    # Items are written a column at a time: odd floats, absent fields, several gases and
    # characters JSON must escape all come back as the window had them.
    results = [
        _result("E-1", "ent-a"),
        _result(
            "E-2",
            'ent "b"\\',
            minute=3,
            iso_category=None,
            gwp_set=None,
            gases={"HFC-125": 1e-05, "HFC-32": 3.25e-09},
            factor_versions=('v"1', "plain"),
            activity=1.0000000000000002,
            tco2e=1e16,
            completeness=0.3333333333333333,
            flags=2**20 + 5,
            interpolated=True,
        ),
        _result("E-3", "ent-c", minute=2, factor_versions=(), gases={}, tco2e=0.0),
    ]
    items = [w for _, v in encode_windows(WindowResults.of(results)) for w in decode_windows(v)]
    assert items == [
        {
            "meter_id": r.key.meter_id,
            "enterprise_id": r.enterprise_id,
            "source_category": r.source_category,
            "iso_category": r.iso_category,
            "width_s": r.key.width_s,
            "window_start": r.key.window_start.isoformat(timespec="milliseconds")[:-6] + "Z",
            "window_end": r.window_end.isoformat(timespec="milliseconds")[:-6] + "Z",
            "activity": r.activity,
            "activity_unit": r.activity_unit,
            "gases_t": r.gases,
            "tco2e": r.tco2e,
            "gwp_set": r.gwp_set,
            "factor_versions": list(r.factor_versions),
            "completeness": r.completeness,
            "flags": r.flags,
            "interpolated": r.interpolated,
        }
        for r in results
    ]


def test_a_large_flush_is_split_into_bounded_messages_in_order() -> None:
    results = [_result("E-1", "ent", minute=i) for i in range(7)]
    messages = list(encode_windows(WindowResults.of(results), max_per_message=3))
    assert [len(decode_windows(v)) for _, v in messages] == [3, 3, 1]
    starts = [w["window_start"] for _, v in messages for w in decode_windows(v)]
    assert starts == sorted(starts)


def test_a_message_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"emissions\.windows"):
        decode_windows(b'{"v": 1, "meter_id": "E-1"}')


def _stored(db: psycopg.Connection[Any], meter_prefix: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT meter_id, width_s, window_start, window_end, enterprise_id, source_category, "
        "iso_category, activity, activity_unit, gases, tco2e, gwp_set, factor_versions, "
        "readings_present, readings_expected, completeness, flags, interpolated "
        "FROM emission_window WHERE meter_id LIKE %s ORDER BY meter_id, window_start",
        (meter_prefix + "%",),
    ).fetchall()


@pytest.mark.integration
def test_the_copy_text_upsert_stores_what_the_row_by_row_upsert_stores(
    db: psycopg.Connection[Any], unique: str
) -> None:
    awkward = {
        "iso_category": None,
        "gwp_set": None,
        "gases": {"CO2": 1e-05, "CH4": 3.25e-09},
        "factor_versions": ('v"1\\x', "plain", "with,comma {brace}"),
        "activity": 1.0000000000000002,
        "completeness": 0.3333333333333333,
        "flags": 2**20 + 5,
        "interpolated": True,
    }
    results = [
        _result(f"A{unique}-1", "ent-a"),
        _result(f"A{unique}-2", 'ent\t"quoted"\\back\nslash', minute=1, **awkward),
        _result(f"A{unique}-3", "ent-c", minute=2, factor_versions=(), gases={}),
    ]
    upsert_by_row(db, [_replace(r, f"B{unique}") for r in results])
    upsert_windows(db, WindowResults.of(results))
    ours = _stored(db, f"A{unique}")
    theirs = _stored(db, f"B{unique}")
    assert len(ours) == 3
    assert [row[1:] for row in ours] == [row[1:] for row in theirs]
    # A recomputed window replaces its figures.
    upsert_windows(db, WindowResults.of([_result(f"A{unique}-1", "ent-a", activity=99.0)]))
    assert _stored(db, f"A{unique}-1")[0][7] == 99.0


def _replace(r: WindowResult, prefix: str) -> WindowResult:
    suffix = r.key.meter_id.split("-", 1)[1]
    key = WindowKey(f"{prefix}-{suffix}", r.key.width_s, r.key.window_start)
    fields = {name: getattr(r, name) for name in WindowResult.__slots__}
    fields["key"] = key
    return WindowResult(**fields)


@pytest.mark.integration
def test_bulk_window_sums_equal_the_store_query(db: psycopg.Connection[Any], unique: str) -> None:

    t0 = 1_767_225_600_000  # on every window boundary
    meters = [f"S{unique}-{i}" for i in range(3)]
    rows = []
    for i, meter in enumerate(meters):
        ts = [t0 + k * 15_000 for k in range(1, 200)]
        # A gap of 47 minutes after reading 50, an odd spacing, and the first reading without
        # an interval (a new meter).
        ts = [t if k < 50 else t + 47 * 60_000 + i * 7_001 for k, t in enumerate(ts)]
        for k, t in enumerate(ts):
            start = ts[k - 1] if k else None
            quantity = None if start is None else 1.5 + 0.01 * k + i
            rows.append((meter, t, 100.0 + k, k, start, quantity, 1 << 17 if k == 50 else 0))
    db.execute(
        "INSERT INTO reading (meter_id, ts, value, unit, flags, source, gateway_id, seq, "
        "interval_start, quantity, quantity_unit) "
        "SELECT m, to_timestamp(t / 1000.0), v, 'kWh', f, 'modbus', 'gw', s, "
        "to_timestamp(st / 1000.0), q, CASE WHEN q IS NULL THEN NULL ELSE 'kWh' END "
        "FROM unnest(%s::text[], %s::bigint[], %s::float8[], %s::bigint[], %s::bigint[], "
        "%s::float8[], %s::int[]) AS x(m, t, v, s, st, q, f)",
        tuple(list(col) for col in zip(*rows, strict=True)),
    )
    due = [
        (meter, width, t0 + n * width * 1000)
        for meter in [*meters, f"S{unique}-none"]
        for width in (60, 300, 900, 3600)
        for n in range(-1, 3 * 3600 // width)
    ]
    ours = read_window_sums(db, due).rows()
    theirs = reference_window_sums(
        db, [WindowKey(m, w, datetime.fromtimestamp(s / 1000, UTC)) for m, w, s in due]
    )
    assert len(ours) == len(due)
    by_key = {t.key: t for t in theirs}
    for o in ours:
        ref = by_key[o.key]
        # Summed in another order than the database sums them: equal to the last few bits.
        assert o.quantity == pytest.approx(ref.quantity, rel=1e-12, abs=1e-12), o.key
        assert o.readings_present == pytest.approx(ref.readings_present, rel=1e-12, abs=1e-12)
        assert (o.flags, o.interpolated) == (ref.flags, ref.interpolated), o.key
    assert sum(s.quantity > 0 for s in ours) > 100
    assert any(s.interpolated for s in ours) and any(s.flags for s in ours)
