"""Bulk meter registration from one file: a park of 300 meters onboarded from one XLSX workbook
(the template the API hands out, filled in), the same file again changing nothing, a bad row
storing nothing, and a CSV file as a Chinese spreadsheet program saves it."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from psycopg import AsyncConnection

from api.registers.xlsx import MEDIA_TYPE
from api.registry.meter_import import COLUMNS, LABELS
from tests.api.conftest import ApiServer

pytestmark = pytest.mark.integration
KINDS = [  # carrier, unit, register kind, source category
    ("electricity", "kWh", "cumulative", "purchased_electricity"),
    ("natural_gas", "Nm3", "cumulative", "stationary_combustion"),
    ("steam", "GJ", "cumulative", "purchased_heat"),
]


async def _park(admin: httpx.AsyncClient, unique: str, enterprises: int) -> tuple[str, list[str]]:
    park = f"imp-{unique}"
    assert (
        await admin.post("/v1/parks", json={"park_id": park, "name": "导入园区"})
    ).status_code == 201
    ents = [f"imp-{unique}-e{i}" for i in range(enterprises)]
    for ent in ents:
        r = await admin.post(
            "/v1/enterprises", json={"enterprise_id": ent, "park_id": park, "name": ent}
        )
        assert r.status_code == 201, r.text
    return park, ents


async def _filled(admin: httpx.AsyncClient, meters: list[dict[str, Any]]) -> bytes:
    """The API's template with one row per meter, as a person fills it in a spreadsheet."""
    r = await admin.get("/v1/meters/import-template")
    assert r.status_code == 200 and r.headers["content-type"] == MEDIA_TYPE
    book = load_workbook(io.BytesIO(r.content))
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    for meter in meters:
        sheet.append([meter.get(str(name)) for name in header])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _meters(unique: str, ents: list[str], n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        carrier, unit, kind, category = KINDS[i % len(KINDS)]
        out.append(
            {
                "meter_id": f"imp-{unique}-m{i:03d}",
                "enterprise_id": ents[i % len(ents)],
                "name": f"表计 {i}",
                "carrier": carrier,
                "unit": unit,
                "register_kind": kind,
                "source_category": category,
                "multiplier": 1 if i % 2 else 40.0,  # a whole number comes back as an int cell
                "expected_interval_s": 900,
                "calibration_due": "2027-06-30",
                "in_boundary": True,
                "installed_at": "2025-01-01T00:00:00+08:00",
            }
        )
    return out


async def _counts(server: ApiServer, ents: list[str]) -> tuple[int, int]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        row = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM meter WHERE enterprise_id = ANY(%(e)s)),"
                " (SELECT count(*) FROM audit_log WHERE entity = 'meter' AND entity_id IN"
                "   (SELECT meter_id FROM meter WHERE enterprise_id = ANY(%(e)s)))",
                {"e": ents},
            )
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def _post(client: httpx.AsyncClient, data: bytes, media: str = MEDIA_TYPE) -> httpx.Response:
    return await client.post(
        "/v1/meters/import", content=data, headers={"Content-Type": media}, timeout=120
    )


async def test_a_park_of_300_meters_is_onboarded_from_one_xlsx_and_a_second_import_changes_nothing(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    _, ents = await _park(admin, unique, 3)
    meters = _meters(unique, ents, 300)
    data = await _filled(admin, meters)
    started = time.perf_counter()
    first = await _post(admin, data)
    took = time.perf_counter() - started
    assert first.status_code == 200, first.text[:2000]
    body = first.json()
    assert (body["stored"], body["created"], body["unchanged"]) == (True, 300, 0)
    assert [r["row"] for r in body["rows"]] == list(range(3, 303))  # after names and labels
    assert await _counts(api_server, ents) == (300, 300)  # each meter and its audit entry
    stored = (await admin.get(f"/v1/meters/imp-{unique}-m000")).json()
    assert (stored["multiplier"], stored["calibration_due"], stored["name"]) == (
        40.0,
        "2027-06-30",
        "表计 0",
    )
    again = await _post(admin, data)
    assert again.status_code == 200, again.text[:2000]
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 300)
    assert {r["outcome"] for r in again.json()["rows"]} == {"unchanged"}
    assert await _counts(api_server, ents) == (300, 300)  # nothing written, nothing audited
    print(f"\nmeter import: 300 meters from one XLSX in {took:.2f} s")


async def test_a_file_with_a_bad_row_stores_nothing_and_says_why_per_row(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    _, ents = await _park(admin, unique, 1)
    meters = _meters(unique, ents, 4)
    meters[1]["carrier"] = "coal_gas"  # not a carrier
    meters[3]["meter_id"] = meters[0]["meter_id"]  # twice in one file
    r = await _post(admin, await _filled(admin, meters))
    assert r.status_code == 422, r.text
    rows = r.json()["rows"]
    assert [x["outcome"] for x in rows] == ["valid", "rejected", "valid", "rejected"]
    assert "carrier" in rows[1]["errors"][0]
    assert "row 3 already" in rows[3]["errors"][0]
    assert await _counts(api_server, ents) == (0, 0)


async def test_a_meter_registered_with_other_values_is_rejected_not_changed(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    _, ents = await _park(admin, unique, 1)
    meters = _meters(unique, ents, 2)
    assert (await _post(admin, await _filled(admin, meters))).status_code == 200
    meters[0]["unit"] = "MWh"  # an electricity meter registered in kWh
    meters.append({**_meters(unique, ents, 3)[2]})  # a new one beside: not stored either
    r = await _post(admin, await _filled(admin, meters))
    assert r.status_code == 422, r.text
    rows = r.json()["rows"]
    assert [x["outcome"] for x in rows] == ["rejected", "valid", "valid"]
    assert "unit: registered 'kWh', file 'MWh'" in rows[0]["errors"][0]
    assert "PATCH /v1/meters/" in rows[0]["errors"][0]
    assert await _counts(api_server, ents) == (2, 2)


async def test_a_csv_saved_in_gb18030_with_the_label_row_is_imported(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    _, ents = await _park(admin, unique, 1)
    template = await admin.get("/v1/meters/import-template", params={"format": "csv"})
    assert template.status_code == 200
    lines = template.content.decode("utf-8-sig").splitlines()
    assert lines == [",".join(COLUMNS), ",".join(LABELS[c] for c in COLUMNS)]
    head = (
        "meter_id,enterprise_id,name,carrier,unit,register_kind,source_category,multiplier,"
        "in_boundary,expected_interval_s"
    )
    labels = ",".join(LABELS[c] for c in head.split(","))
    body = "\r\n".join(
        [
            head,
            labels,
            f"imp-{unique}-c1,{ents[0]},一号变压器,electricity,kWh,cumulative,"
            "purchased_electricity,80,true,900",
            f"imp-{unique}-c2,{ents[0]},锅炉房,natural_gas,Nm3,cumulative,"
            "stationary_combustion,1,false,300.0",
        ]
    ).encode("gb18030")
    r = await _post(admin, body, "text/csv")
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    c1 = (await admin.get(f"/v1/meters/imp-{unique}-c1")).json()
    c2 = (await admin.get(f"/v1/meters/imp-{unique}-c2")).json()
    assert (c1["name"], c1["multiplier"], c1["in_boundary"]) == ("一号变压器", 80.0, True)
    assert (c2["in_boundary"], c2["expected_interval_s"]) == (False, 300)
    again = await _post(admin, body, "text/csv")
    assert again.status_code == 200 and again.json()["unchanged"] == 2


async def test_what_is_not_a_meter_file_is_refused_and_only_admins_import(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient
) -> None:
    assert (await _post(admin, b"{}", "application/json")).status_code == 415
    r = await _post(admin, b"not a workbook")
    assert r.status_code == 422 and "XLSX" in r.text
    wrong = await _post(admin, b"meter_id,colour\r\nm1,red\r\n", "text/csv")
    assert wrong.status_code == 422 and "colour" in wrong.text
    for r in (
        await tenant_a.get("/v1/meters/import-template"),
        await _post(tenant_a, b"meter_id\r\n", "text/csv"),
    ):
        assert r.status_code == 403 and r.json()["required"] == "registry:write"


async def test_a_csv_that_is_no_text_table_is_422(admin: httpx.AsyncClient) -> None:
    # A cell beyond the csv module's field limit (128 KiB): not a meter table.
    r = await _post(admin, b"meter_id\r\n" + b"m" * 200_000 + b"\r\n", "text/csv")
    assert r.status_code == 422 and "CSV" in r.text, r.text
