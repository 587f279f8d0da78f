"""Manual activity records over HTTP against the real database (clause 6.3.1 e): validation,
the draft -> confirmed state machine, versioned corrections, the audit log, tenancy, evidence
files, strict CSV/XLSX upload and the rule against counting a meter's consumption twice."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from psycopg import AsyncConnection

from accounting.activity import activity_lines, catalogue_energy_factor
from accounting.factors import load_catalogue
from accounting.gwp import GwpSet
from store.activity import confirmed_activity, replaced_meters
from tests.api.conftest import ENTERPRISE_A, PARK, ApiServer

pytestmark = pytest.mark.integration

PATH = "/v1/activity-records"
PDF = b"%PDF-1.4\n% invoice scan\n"


def sf6(tag: str, **given: Any) -> dict[str, Any]:
    """2 kg of SF6 refilled into switchgear in March 2025, with its invoice declared."""
    return {
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "source_category": "fugitive",
        "carrier": "fugitive_gas",
        "material": "SF6",
        "quantity": 2.0,
        "unit": "kg",
        "document_ref": f"INV-{tag}",
        "evidence_file_name": f"invoice-{tag}.pdf",
        "evidence_sha256": hashlib.sha256(PDF).hexdigest(),
    } | given


async def stored(server: ApiServer, document_ref: str) -> int:
    async with await AsyncConnection.connect(server.database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM activity_record_version WHERE document_ref = %s",
            (document_ref,),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def audit_actions(server: ApiServer, record_id: int) -> list[str]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        cur = await conn.execute(
            "SELECT action FROM audit_log WHERE entity = 'activity_record' AND entity_id = %s"
            " ORDER BY id",
            (str(record_id),),
        )
        return [r[0] for r in await cur.fetchall()]


async def test_an_enterprise_enters_a_draft_of_its_own(
    tenant_a: httpx.AsyncClient, unique: str
) -> None:
    r = await tenant_a.post(PATH, json=sf6(unique))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["enterprise_id"], body["state"], body["version"]) == (ENTERPRISE_A, "draft", 1)
    assert body["current"]["activity"] == pytest.approx(0.002)  # t, the canonical unit
    assert body["current"]["activity_unit"] == "t"
    assert body["current"]["entered_by"].startswith("key:")
    assert body["allowed_events"] == ["confirm", "withdraw", "correct"]


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"unit": "furlong"}, "furlong"),
        ({"material": "HFC-9999"}, "HFC-9999"),
        ({"carrier": "natural_gas", "material": None, "unit": "Nm3"}, "not a carrier"),
        ({"period_end": "2999-01-31"}, "future"),
        ({"quantity": -1}, "greater than or equal"),
        ({"evidence_sha256": "ABC"}, "evidence_sha256"),
    ],
)
async def test_bad_input_is_refused_naming_it_and_stores_nothing(
    tenant_a: httpx.AsyncClient,
    api_server: ApiServer,
    unique: str,
    given: dict[str, Any],
    said: str,
) -> None:
    r = await tenant_a.post(PATH, json=sf6(unique, **given))
    assert r.status_code == 422, r.text
    assert said in r.text
    assert await stored(api_server, f"INV-{unique}") == 0


async def test_confirm_correct_and_withdraw_follow_the_state_machine(
    tenant_a: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    record = (await tenant_a.post(PATH, json=sf6(unique))).json()
    rid = record["record_id"]
    confirmed = await tenant_a.post(f"{PATH}/{rid}/transitions", json={"to": "confirmed"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "confirmed"
    again = await tenant_a.post(f"{PATH}/{rid}/transitions", json={"to": "confirmed"})
    assert again.status_code == 409 and again.json()["allowed"] == ["withdraw", "correct"]

    fixed = sf6(unique, quantity=3.0) | {"reason": "the invoice says 3 kg"}
    corrected = await tenant_a.post(f"{PATH}/{rid}/corrections", json=fixed)
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["version"], corrected.json()["state"]) == (2, "draft")
    detail = (await tenant_a.get(f"{PATH}/{rid}")).json()
    assert [(v["version"], v["quantity"]) for v in detail["versions"]] == [(1, 2.0), (2, 3.0)]
    assert detail["versions"][1]["reason"] == "the invoice says 3 kg"

    no_reason = await tenant_a.post(f"{PATH}/{rid}/transitions", json={"to": "withdrawn"})
    assert no_reason.status_code == 422, no_reason.text
    gone = await tenant_a.post(
        f"{PATH}/{rid}/transitions", json={"to": "withdrawn", "reason": "duplicate invoice"}
    )
    assert gone.status_code == 200 and gone.json()["state"] == "withdrawn"
    late = await tenant_a.post(f"{PATH}/{rid}/corrections", json=fixed)
    assert late.status_code == 409 and late.json()["allowed"] == []
    assert await audit_actions(api_server, rid) == ["create", "confirm", "correct", "withdraw"]


async def test_old_versions_cannot_be_rewritten(
    tenant_a: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    rid = (await tenant_a.post(PATH, json=sf6(unique))).json()["record_id"]
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute(
                "UPDATE activity_record_version SET quantity = 0 WHERE record_id = %s", (rid,)
            )


async def test_another_enterprise_neither_sees_nor_writes_the_record(
    tenant_a: httpx.AsyncClient, tenant_b: httpx.AsyncClient, unique: str
) -> None:
    rid = (await tenant_a.post(PATH, json=sf6(unique))).json()["record_id"]
    assert (await tenant_b.get(f"{PATH}/{rid}")).status_code == 404
    moved = await tenant_b.post(f"{PATH}/{rid}/transitions", json={"to": "confirmed"})
    assert moved.status_code == 404
    listed = (await tenant_b.get(PATH, params={"limit": 500})).json()["items"]
    assert rid not in {i["record_id"] for i in listed}
    for_a = await tenant_b.post(PATH, json=sf6(unique, enterprise_id=ENTERPRISE_A))
    assert for_a.status_code == 404 and for_a.json()["detail"] == f"no enterprise {ENTERPRISE_A!r}"
    assert (await tenant_a.get(f"{PATH}/{rid}")).json()["state"] == "draft"


async def test_evidence_must_be_the_file_the_record_declares(
    tenant_a: httpx.AsyncClient, unique: str
) -> None:
    rid = (await tenant_a.post(PATH, json=sf6(unique))).json()["record_id"]
    url = f"{PATH}/{rid}/evidence"
    pdf = {"content-type": "application/pdf"}
    tampered = await tenant_a.put(url, content=PDF + b"edited", headers=pdf)
    assert tampered.status_code == 422 and "sha256" in tampered.text
    as_png = await tenant_a.put(url, content=PDF, headers={"content-type": "image/png"})
    assert as_png.status_code == 422 and "not a PNG file" in as_png.text
    ok = await tenant_a.put(url, content=PDF, headers=pdf)
    assert ok.status_code == 200, ok.text
    assert ok.json()["current"]["evidence_uploaded"] is True
    twice = await tenant_a.put(url, content=PDF, headers=pdf)
    assert twice.status_code == 409


async def _diesel_meter_with_a_window(admin: httpx.AsyncClient, server: ApiServer, tag: str) -> str:
    meter = f"act-diesel-{tag}"
    r = await admin.post(
        "/v1/meters",
        json={
            "meter_id": meter,
            "enterprise_id": ENTERPRISE_A,
            "carrier": "diesel",
            "unit": "t",
            "register_kind": "cumulative",
            "source_category": "stationary_combustion",
            "installed_at": "2024-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, activity, activity_unit, tco2e,"
            " readings_present, readings_expected, completeness) VALUES (%s, 3600,"
            " '2025-04-10T02:00:00Z', '2025-04-10T03:00:00Z', %s, 'stationary_combustion',"
            " 0.1, 't', 0.3, 4, 4, 1)",
            (meter, ENTERPRISE_A),
        )
    return meter


def diesel(tag: str, **given: Any) -> dict[str, Any]:
    return {
        "period_start": "2025-04-01",
        "period_end": "2025-04-30",
        "source_category": "stationary_combustion",
        "carrier": "diesel",
        "quantity": 1000.0,
        "unit": "L",
        "document_ref": f"LEDGER-{tag}",
    } | given


async def test_a_record_is_refused_where_a_meter_already_counts_the_consumption(
    tenant_a: httpx.AsyncClient, admin: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    """The meter has a window on 10 April: a ledger for April either names it in
    replaces_meters (its windows then leave the inventory for April) or is refused."""
    meter = await _diesel_meter_with_a_window(admin, api_server, unique)
    refused = await tenant_a.post(PATH, json=diesel(unique))
    assert refused.status_code == 409, refused.text
    assert refused.json()["meters"] == [meter]
    assert await stored(api_server, f"LEDGER-{unique}") == 0
    # May has no window of the meter: nothing counts twice.
    may = await tenant_a.post(
        PATH, json=diesel(unique, period_start="2025-05-01", period_end="2025-05-31")
    )
    assert may.status_code == 201, may.text
    replacing = await tenant_a.post(PATH, json=diesel(unique, replaces_meters=[meter]))
    assert replacing.status_code == 201, replacing.text
    rid = replacing.json()["record_id"]
    assert (
        await tenant_a.post(f"{PATH}/{rid}/transitions", json={"to": "confirmed"})
    ).status_code == 200
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        replaced = await replaced_meters(
            conn,
            park_id=PARK,
            enterprise_id=ENTERPRISE_A,
            start=date(2025, 4, 1),
            end=date(2025, 4, 30),
        )
    mine = [r for r in replaced if r.record_id == rid]
    assert [(r.meter_id, r.starts_at.isoformat()) for r in mine] == [
        (meter, "2025-03-31T16:00:00+00:00")  # 1 April 00:00 in Asia/Shanghai
    ]


async def test_a_meter_of_another_enterprise_cannot_be_replaced(
    tenant_b: httpx.AsyncClient, admin: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    meter = await _diesel_meter_with_a_window(admin, api_server, unique)
    r = await tenant_b.post(PATH, json=diesel(unique, replaces_meters=[meter]))
    assert r.status_code == 422 and f"no meter {meter!r}" in r.text


async def test_confirmed_records_become_inventory_lines(
    admin: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    """A park-level SF6 refill for one day of June 2025, confirmed: 2 kg x 23,500 = 47 tCO2e;
    the store query returns it for June and half of it for a period with half its days."""
    body = sf6(unique, park_id=PARK, period_start="2025-06-14", period_end="2025-06-15")
    rid = (await admin.post(PATH, json=body)).json()["record_id"]
    draft_only = await _park_rows(api_server, date(2025, 6, 1), date(2025, 6, 30))
    assert rid not in {r.record_id for r in draft_only}
    await admin.post(f"{PATH}/{rid}/transitions", json={"to": "confirmed"})
    [row] = [
        r
        for r in await _park_rows(api_server, date(2025, 6, 1), date(2025, 6, 30))
        if r.record_id == rid
    ]
    assert (row.enterprise_id, row.share) == (None, 1.0)
    energy = catalogue_energy_factor(load_catalogue(), region="CN", gwp_set=GwpSet.AR5)
    [line] = activity_lines([row.to_input()], gwp_set=GwpSet.AR5, energy_factor=energy).emissions
    assert (line.subject, line.label, line.tco2e) == (PARK, f"{rid}v1", pytest.approx(47.0))
    [half] = [
        r
        for r in await _park_rows(api_server, date(2025, 6, 15), date(2025, 6, 30))
        if r.record_id == rid
    ]
    assert half.share == 0.5 and half.to_input().quantity == pytest.approx(1.0)


async def _park_rows(server: ApiServer, start: date, end: date) -> list[Any]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        return await confirmed_activity(
            conn, park_id=PARK, enterprise_id=None, start=start, end=end
        )


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _upload_rows(tag: str) -> list[dict[str, Any]]:
    first = sf6(f"{tag}-1")
    second = sf6(f"{tag}-2", material="R-410A", quantity=10)
    return [first, second]


async def test_a_file_with_a_bad_row_stores_nothing_and_says_which_row(
    tenant_a: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    rows = _upload_rows(unique)
    rows.append(sf6(f"{unique}-3", unit="furlong"))
    r = await tenant_a.post(
        f"{PATH}/uploads", content=_csv(rows), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 422, r.text
    results = r.json()["rows"]
    assert [(x["row"], x["outcome"]) for x in results] == [
        (2, "valid"),
        (3, "valid"),
        (4, "rejected"),
    ]
    assert "furlong" in results[2]["errors"][0]
    for n in (1, 2, 3):
        assert await stored(api_server, f"INV-{unique}-{n}") == 0


async def test_a_good_csv_and_a_good_xlsx_are_stored_whole(
    tenant_a: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    r = await tenant_a.post(
        f"{PATH}/uploads",
        content=_csv(_upload_rows(unique)),
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text
    assert [x["outcome"] for x in r.json()["rows"]] == ["created", "created"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    rows = _upload_rows(f"x{unique}")
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append([row[k] for k in rows[0]])
    data = io.BytesIO()
    book.save(data)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = await tenant_a.post(
        f"{PATH}/uploads", content=data.getvalue(), headers={"content-type": xlsx}
    )
    assert r.status_code == 201, r.text
    assert await stored(api_server, f"INV-x{unique}-2") == 1


@pytest.mark.parametrize(
    ("carrier", "unit", "category", "factor_key"),
    [
        ("fugitive_gas", "kg", "fugitive", "SF6"),
        ("fugitive_gas", "kg", "fugitive", "R-410A"),
        ("process_material", "t", "process", "process.caco3"),
    ],
)
async def test_meters_of_process_materials_and_fugitive_gases_are_registered(
    admin: httpx.AsyncClient,
    unique: str,
    carrier: str,
    unit: str,
    category: str,
    factor_key: str,
) -> None:
    """The schema and the registry accept every source category of 6.3.1 c for meters; the
    factor_key names the material or gas the worker weighs (accounting/window_co2e.py)."""
    body = {
        "meter_id": f"act-{carrier}-{unique}",
        "enterprise_id": ENTERPRISE_A,
        "carrier": carrier,
        "unit": unit,
        "register_kind": "cumulative",
        "source_category": category,
        "factor_key": factor_key,
    }
    r = await admin.post("/v1/meters", json=body)
    assert r.status_code == 201, r.text
    unknown = await admin.post(
        "/v1/meters", json=body | {"meter_id": f"act-x-{unique}", "factor_key": "unobtainium"}
    )
    assert unknown.status_code == 422 and "unobtainium" in unknown.text


async def test_green_space_is_not_a_meter(admin: httpx.AsyncClient, unique: str) -> None:
    """Green space is an area entered as an activity record; no meter reads it."""
    body = {
        "meter_id": f"act-green-{unique}",
        "enterprise_id": ENTERPRISE_A,
        "carrier": "green_space",
        "unit": "ha",
        "register_kind": "cumulative",
        "source_category": "green_space_sink",
    }
    r = await admin.post("/v1/meters", json=body)
    assert r.status_code == 422, r.text
    assert "green_space" in r.text
