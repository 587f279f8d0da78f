"""Stored inventories (``/v1/inventories``, GB/T 32150 clause 6.3.1 f, 7.3) end to end: windows
written by the run's real worker from readings pushed through ``POST /v1/readings``, confirmed
activity records entered through the API, the inventory computed, stored and read back.

A park of its own (Asia/Shanghai, region CN, AR5), two enterprises:

- E1 purchased electricity, metered: 70+85+95 = 250 kWh x grid 0.5306 kgCO2/kWh (MEE/NBS
  2023) = 0.13265 tCO2; market-based x residual mix 0.6096 kg/kWh = 0.1524 tCO2.
- E1 process record: 10 t CaCO3 x 0.43971 tCO2/t (IPCC 2006 Vol 3 Table 2.1) = 4.3971 tCO2.
- E1 fugitive record: 2 kg SF6 x GWP AR5 23500 = 47 tCO2e.
- E2 mobile combustion record: 1.5 t diesel x NCV 42.652 GJ/t x 0.0202 tC/GJ x OF 0.98 x 44/12
  (GB/T 32150 defaults) = 4.6323... tCO2.
- E2 green-space sink record: 10 ha urban tree crown, 1 day: 2.9 tC/ha/yr x 44/12 / 365 =
  removal 0.29132... tCO2, apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from psycopg import AsyncConnection, errors

from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
DELTAS_KWH = (10, 20, 15, 25, 30, 25, 10, 20, 15, 35, 20, 25)  # 15-minute intervals: 250 kWh
GRID_T_PER_KWH = 0.5306e-3
RESIDUAL_T_PER_KWH = 0.6096e-3
ELEC_KWH = 250.0
PROCESS_T = 10 * 0.43971
SF6_TCO2E = 0.002 * 23500  # 47
DIESEL_T = 1.5
DIESEL_TCO2 = DIESEL_T * 42.652 * 0.0202 * 0.98 * 44 / 12
SINK_TCO2 = 10 * 2.9 * 44 / 12 * 1 / 365
WAIT_S = 90.0


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def _own_park(database_url: str, tag: str) -> tuple[str, str, str]:
    park, e1, e2 = f"invp-{tag}", f"inve1-{tag}", f"inve2-{tag}"
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO park (park_id, name, timezone, region) VALUES (%s, 'Inventory park',"
            " 'Asia/Shanghai', 'CN')",
            (park,),
        )
        for ent in (e1, e2):
            await conn.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, park, f"name of {ent}"),
            )
    return park, e1, e2


async def _metered(admin: httpx.AsyncClient, server: ApiServer, meter: str, ent: str) -> None:
    """Three hours of a cumulative electricity register, pushed and stored by the worker."""
    r = await admin.post(
        "/v1/meters",
        json={
            "meter_id": meter,
            "enterprise_id": ent,
            "carrier": "electricity",
            "unit": "kWh",
            "register_kind": "cumulative",
            "source_category": "purchased_electricity",
            "expected_interval_s": 900,
            "installed_at": "2024-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    values = [10_000.0]
    for d in DELTAS_KWH:
        values.append(values[-1] + d)
    readings = [
        {"meter_id": meter, "ts": _iso(t0 + timedelta(minutes=15 * i)), "value": v, "unit": "kWh"}
        for i, v in enumerate(values)
    ]
    r = await admin.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + WAIT_S
    total = 0.0
    while time.monotonic() < deadline:
        async with await AsyncConnection.connect(server.database_url) as conn:
            cur = await conn.execute(
                "SELECT coalesce(sum(activity), 0) FROM emission_window"
                " WHERE meter_id = %s AND width_s = 3600",
                (meter,),
            )
            total = float((await cur.fetchone() or (0,))[0])
        if total == pytest.approx(ELEC_KWH):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"windows not stored within {WAIT_S} s: {total} kWh")


async def _confirmed(admin: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await admin.post("/v1/activity-records", json=body)
    assert r.status_code == 201, r.text
    record_id = r.json()["record_id"]
    r = await admin.post(f"/v1/activity-records/{record_id}/transitions", json={"to": "confirmed"})
    assert r.status_code == 200, r.text
    return f"{record_id}v1"


def _record(ent: str, day: date, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": ent,
        "period_start": day.isoformat(),
        "period_end": day.isoformat(),
        "document_ref": f"inventory test {kw['source_category']}",
        **kw,
    }


def _canonical_sha256(content: Any) -> str:
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
async def small_park(api_server: ApiServer, admin: httpx.AsyncClient) -> dict[str, Any]:
    tag = f"{time.time_ns() % 10**10}"
    park, e1, e2 = await _own_park(api_server.database_url, tag)
    await _metered(admin, api_server, f"invm-{tag}", e1)
    today = datetime.now(TZ).date()
    day = today - timedelta(days=2)
    records = {
        "process": await _confirmed(
            admin,
            _record(
                e1,
                day,
                source_category="process",
                carrier="process_material",
                material="process.caco3",
                quantity=10.0,
                unit="t",
            ),
        ),
        "fugitive": await _confirmed(
            admin,
            _record(
                e1,
                day,
                source_category="fugitive",
                carrier="fugitive_gas",
                material="SF6",
                quantity=2.0,
                unit="kg",
            ),
        ),
        "diesel": await _confirmed(
            admin,
            _record(
                e2,
                day,
                source_category="mobile_combustion",
                carrier="diesel",
                quantity=DIESEL_T,
                unit="t",
            ),
        ),
        "sink": await _confirmed(
            admin,
            _record(
                e2,
                day,
                source_category="green_space_sink",
                carrier="green_space",
                material="sink.urban_tree_crown",
                quantity=10.0,
                unit="ha",
            ),
        ),
    }
    period = {
        "park_id": park,
        "from": (today - timedelta(days=3)).isoformat(),
        "to": today.isoformat(),
    }
    return {"park": park, "e1": e1, "e2": e2, "records": records, "period": period}


async def _create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/v1/inventories", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _lines(inv: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [ln for ln in inv["content"]["lines"] if all(ln[k] == v for k, v in match.items())]


async def test_a_stored_inventory_holds_every_line_with_its_factor_and_the_hand_totals(
    admin: httpx.AsyncClient, small_park: dict[str, Any]
) -> None:
    p = small_park
    inv = await _create(admin, p["period"])
    c = inv["content"]
    assert (inv["version"], inv["supersedes"], inv["state"]) == (1, None, "current")
    assert c["entity"]["boundary"] == "park" and c["gwp_set"] == "AR5"

    [grid] = _lines(inv, enterprise_id=p["e1"], origin="metered", basis="location_based")
    assert (grid["activity"], grid["activity_unit"]) == (pytest.approx(ELEC_KWH), "kWh")
    assert grid["factor"] == pytest.approx(GRID_T_PER_KWH) and grid["factor_unit"] == "tCO2/kWh"
    assert grid["factor_versions"] == ["grid_avg.CN@2023-01-01"]
    assert grid["factor_sources"] and "MEE" in grid["factor_sources"][0]
    assert grid["tco2e"] == pytest.approx(ELEC_KWH * GRID_T_PER_KWH)
    [market] = _lines(inv, enterprise_id=p["e1"], basis="market_based")
    assert market["factor"] == pytest.approx(RESIDUAL_T_PER_KWH)
    assert market["tco2e"] == pytest.approx(ELEC_KWH * RESIDUAL_T_PER_KWH)

    rec = p["records"]
    [process] = _lines(inv, origin=f"activity record {rec['process']}")
    assert (process["source_category"], process["material"], process["gas"]) == (
        "process",
        "process.caco3",
        "CO2",
    )
    assert (process["activity"], process["activity_unit"]) == (pytest.approx(10.0), "t")
    assert process["factor"] == pytest.approx(0.43971) and "IPCC" in process["factor_sources"][0]
    assert process["tco2e"] == pytest.approx(PROCESS_T)
    [sf6] = _lines(inv, origin=f"activity record {rec['fugitive']}")
    assert (sf6["gas"], sf6["activity"], sf6["activity_unit"]) == ("SF6", 0.002, "t")
    assert (sf6["gwp"], sf6["tco2e"]) == (23500, pytest.approx(47.0))
    assert "AR5" in sf6["gwp_source"]
    diesel = _lines(inv, origin=f"activity record {rec['diesel']}")
    assert {d["gas"] for d in diesel} == {"CO2"}
    assert (diesel[0]["carrier"], diesel[0]["activity"], diesel[0]["activity_unit"]) == (
        "diesel",
        DIESEL_T,
        "t",
    )
    assert diesel[0]["tco2e"] == pytest.approx(DIESEL_TCO2)
    assert {v for d in diesel for v in d["factor_versions"]} >= {"fuel.diesel.ncv@2016-06-01"}

    # The sink is a removal line of its own, never an emission, never netted.
    assert _lines(inv, source_category="green_space_sink") == []
    [sink] = c["removals"]
    assert sink["enterprise_id"] == p["e2"]
    assert sink["tco2_removed"] == pytest.approx(SINK_TCO2)
    assert "sink.urban_tree_crown" in sink["method_note"]

    location = ELEC_KWH * GRID_T_PER_KWH + PROCESS_T + SF6_TCO2E + DIESEL_TCO2
    market_total = ELEC_KWH * RESIDUAL_T_PER_KWH + PROCESS_T + SF6_TCO2E + DIESEL_TCO2
    assert c["totals"]["location_tco2e"] == pytest.approx(location)
    assert c["totals"]["market_tco2e"] == pytest.approx(market_total)
    assert c["totals"]["removals_tco2"] == pytest.approx(SINK_TCO2)
    assert inv["location_tco2e"] == c["totals"]["location_tco2e"]
    by_ent = {e["enterprise_id"]: e for e in c["by_enterprise"]}
    assert by_ent[p["e2"]]["location_tco2e"] == pytest.approx(DIESEL_TCO2)
    assert by_ent[p["e2"]]["removals_tco2"] == pytest.approx(SINK_TCO2)
    gases = {g["gas"]: g["location_tco2e"] for g in c["by_gas"]}
    assert gases["SF6"] == pytest.approx(47.0)
    assert {r["record"] for r in c["activity_records"]} == set(rec.values())
    versions = {f["version"] for f in c["factor_versions"]}
    assert {"grid_avg.CN@2023-01-01", "process.caco3", "SF6"} <= versions

    # The content hash is the sha256 of the content's canonical JSON, as stored.
    assert _canonical_sha256(c) == inv["content_sha256"]
    got = await admin.get(f"/v1/inventories/{inv['inventory_id']}")
    assert got.status_code == 200 and got.json() == inv


async def test_a_second_post_is_version_2_and_the_first_stays_unchanged(
    admin: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    small_park: dict[str, Any],
    api_server: ApiServer,
) -> None:
    body = small_park["period"] | {"enterprise_id": small_park["e1"]}
    first = await _create(admin, body)
    second = await _create(admin, body)
    assert (second["version"], second["supersedes"]) == (
        first["version"] + 1,
        first["inventory_id"],
    )
    # Each version carries the hash of its own content (the period includes today, so the
    # readings expected by now grow between the two: the contents may differ).
    for inv in (first, second):
        assert _canonical_sha256(inv["content"]) == inv["content_sha256"]
    again = (await admin.get(f"/v1/inventories/{first['inventory_id']}")).json()
    assert again == first | {"state": "superseded"}
    listed = await admin.get("/v1/inventories", params={"enterprise_id": small_park["e1"]})
    ids = [i["inventory_id"] for i in listed.json()["items"]]
    assert ids.index(second["inventory_id"]) < ids.index(first["inventory_id"])
    audit = await auditor.get(
        "/v1/audit", params={"entity": "inventory", "entity_id": str(second["inventory_id"])}
    )
    [entry] = audit.json()["items"]
    assert (
        entry["action"] == "create" and entry["after"]["content_sha256"] == second["content_sha256"]
    )
    # The table refuses any change: the stored record is immutable.
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        for sql in (
            "UPDATE inventory SET location_tco2e = 0 WHERE inventory_id = %s",
            "DELETE FROM inventory WHERE inventory_id = %s",
        ):
            with pytest.raises(errors.InsufficientPrivilege, match="immutable"):
                await conn.execute(sql, (first["inventory_id"],))


async def test_the_xlsx_opens_and_holds_the_lines_and_the_html_has_every_section(
    admin: httpx.AsyncClient, small_park: dict[str, Any]
) -> None:
    inv = await _create(admin, small_park["period"])
    r = await admin.get(f"/v1/inventories/{inv['inventory_id']}", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    assert {
        "entity",
        "period",
        "sources",
        "activity",
        "factors",
        "emissions",
        "removals",
        "quality",
        "enterprises",
    } <= set(book.sheetnames)
    sheet = book["emissions"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    assert len(rows) == len(inv["content"]["lines"])
    sf6 = [row for row in rows if row["gas"] == "SF6"]
    assert [row["tco2e"] for row in sf6] == [pytest.approx(47.0)]

    r = await admin.get(
        f"/v1/inventories/{inv['inventory_id']}", params={"format": "html", "lang": "en"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-language"] == "en"
    for heading in (
        "1 Reporting entity and boundary",
        "2 Reporting period",
        "3 Emission sources",
        "4 Activity data and their sources",
        "5 Emission factors and their sources",
        "6 Emissions by source category and gas",
        "7 Removals",
        "8 Data quality",
        "9 Roll-up by enterprise",
    ):
        assert heading in r.text, heading
    assert inv["content_sha256"] in r.text and "<script" not in r.text

    # The same page for the carbon office in Chinese: sections, columns and items in the
    # standard's terms, from the one catalogue.
    zh = await admin.get(
        f"/v1/inventories/{inv['inventory_id']}",
        params={"format": "html"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert zh.status_code == 200 and zh.headers["content-language"] == "zh-CN"
    for heading in ("1 报告主体与边界", "3 排放源", "5 排放因子及其来源", "8 数据质量"):
        assert heading in zh.text, heading
    assert "基于位置的排放总量" in zh.text and "排放源类别" in zh.text
    assert "Reporting entity" not in zh.text and "gross_location_tco2e" not in zh.text


async def test_bad_periods_and_unknown_enterprises_are_problems_and_store_nothing(
    admin: httpx.AsyncClient, small_park: dict[str, Any]
) -> None:
    park = small_park["park"]
    before = (await admin.get("/v1/inventories", params={"park_id": park, "limit": 500})).json()
    cases = [
        ({"park_id": park, "year": 2099}, 422, "ends after today"),
        ({"park_id": park, "from": "2025-03-10", "to": "2025-03-01"}, 422, "before"),
        ({"park_id": park, "enterprise_id": "no-such-ent", "year": 2025}, 404, "no-such-ent"),
        ({"park_id": park}, 422, "year"),
    ]
    for body, status, said in cases:
        r = await admin.post("/v1/inventories", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert said in r.text, r.text
    after = (await admin.get("/v1/inventories", params={"park_id": park, "limit": 500})).json()
    assert after == before


async def test_an_enterprise_key_gets_its_own_inventories_and_never_the_parks(
    admin: httpx.AsyncClient,
    make_key: MakeKey,
    api_server: ApiServer,
    small_park: dict[str, Any],
) -> None:
    p = small_park
    park_inv = await _create(admin, p["period"])
    token = await make_key(Role.ENTERPRISE, enterprise_id=p["e1"])
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as e1:
        mine = await _create(e1, {k: v for k, v in p["period"].items() if k != "park_id"})
        assert mine["enterprise_id"] == p["e1"] and mine["content"]["entity"]["boundary"] == (
            "enterprise"
        )
        assert {ln["enterprise_id"] for ln in mine["content"]["lines"]} == {p["e1"]}
        assert mine["content"]["removals"] == []  # E2's sink is not E1's
        r = await e1.get(f"/v1/inventories/{park_inv['inventory_id']}")
        assert r.status_code == 404, r.text
        listed = {i["inventory_id"] for i in (await e1.get("/v1/inventories")).json()["items"]}
        assert mine["inventory_id"] in listed and park_inv["inventory_id"] not in listed
        r = await e1.post("/v1/inventories", json=p["period"] | {"enterprise_id": p["e2"]})
        assert r.status_code == 404 and r.json()["detail"] == f"no enterprise {p['e2']!r}"
