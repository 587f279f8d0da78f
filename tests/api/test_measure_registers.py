"""Objectives, measures and the calibration log on the shared register machinery: XLSX round
trip and import rules, due-date reminders raised once through the webhook outbox (the clock
injected), and a failed calibration opening its nonconformity in the event's transaction."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from psycopg import AsyncConnection

from api.keys import Role
from api.measures.spec import CALIBRATIONS, MEASURES, OBJECTIVES
from api.registers import reminders, xlsx
from api.registers.spec import RegisterSpec
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK, ApiServer, MakeKey, _client

pytestmark = pytest.mark.integration

XLSX = {"content-type": xlsx.MEDIA_TYPE}


async def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


async def _enterprise(server: ApiServer, ent: str) -> None:
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, PARK, ent),
        )


async def _meter(admin: httpx.AsyncClient, meter_id: str, enterprise: str, **kw: Any) -> None:
    body = {
        "meter_id": meter_id,
        "enterprise_id": enterprise,
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
        "installed_at": "2024-01-01T00:00:00Z",
        **kw,
    }
    await _ok(await admin.post("/v1/meters", json=body), 201)


async def _target(admin: httpx.AsyncClient, enterprise: str) -> int:
    body = {
        "subject_kind": "enterprise",
        "subject_id": enterprise,
        "period_kind": "year",
        "period_start": "2030-01-01",
        "absolute_tco2e": 1000.0,
    }
    return int((await _ok(await admin.post("/v1/targets", json=body), 201))["target_id"])


def objective(enterprise: str, target_id: int, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "title": "Cut purchased electricity 5 %",
        "indicator": "=tCO2e of purchased electricity per year",  # formula-like text
        "target_id": target_id,
        "owner": "zhao.min",
        "resources": "CNY 200k; one energy engineer",
        "due_on": "2030-12-31",
        "evaluation_method": "quarterly review of /v1/progress",
        **kw,
    }


def measure(enterprise: str, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "title": "VFDs on cooling-water pumps",
        "description": "variable-frequency drives on pumps P1-P4",
        "source_category": "purchased_electricity",
        "expected_tco2e_per_year": 73.5,
        "expected_tce_per_year": 28.25,
        "capex_cny": 100_000.0,
        "owner": "wang.lei",
        "planned_start": "2030-01-01",
        "planned_end": "2030-06-30",
        **kw,
    }


def calibration(**kw: Any) -> dict[str, Any]:
    return {
        "kind": "calibration",
        "performed_on": "2026-02-10",
        "result": "pass",
        "certificate_no": "JJ-2026-0117",
        "laboratory": "Zhejiang Institute of Metrology",
        "next_due": "2027-02-10",
        **kw,
    }


def cells(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def sheet_of(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for r in rows:
        book.active.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def audit_count(server: ApiServer, entity: str) -> int:
    async with await AsyncConnection.connect(server.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM audit_log WHERE entity = %s", (entity,))
        found = await cur.fetchone()
    assert found is not None
    return int(found[0])


async def round_trip(
    reader: httpx.AsyncClient, writer: httpx.AsyncClient, path: str, rows: int
) -> bytes:
    """Export, import that file, export again: the same bytes, every row unchanged."""
    first = await reader.get(f"{path}/export")
    assert first.status_code == 200 and first.headers["content-type"] == xlsx.MEDIA_TYPE
    assert len(cells(first.content)) == 2 + rows
    r = await writer.post(f"{path}/import", content=first.content, headers=XLSX)
    assert r.status_code == 200, r.text
    assert [row["outcome"] for row in r.json()["rows"]] == ["unchanged"] * rows
    second = await reader.get(f"{path}/export")
    assert second.content == first.content
    return first.content


async def test_each_register_round_trips_through_xlsx_unchanged(
    api_server: ApiServer, admin: httpx.AsyncClient, make_key: MakeKey, unique: str
) -> None:
    """On an enterprise of its own, so the exports hold this test's records only: export,
    import, export gives the same bytes and writes no audit entry."""
    ent = f"mrt-{unique}"
    await _enterprise(api_server, ent)
    meter = f"mrt-{unique}"
    await _meter(admin, meter, ent, calibration_due="2026-01-01")
    target = await _target(admin, ent)
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as own:
        for body in (
            objective(ent, target),
            objective(ent, target, title="Achieved one", resources="none; in-house"),
        ):
            await _ok(await own.post("/v1/objectives", json=body), 201)
        done = (await own.get("/v1/objectives")).json()["items"][0]["record_id"]
        await _ok(await own.patch(f"/v1/objectives/{done}", json={"status": "achieved"}))
        await _ok(await own.post("/v1/measures", json=measure(ent, meter_ids=[meter])), 201)
        cancelled = await _ok(
            await own.post("/v1/measures", json=measure(ent, capex_cny=None)), 201
        )
        await _ok(
            await own.post(
                f"/v1/measures/{cancelled['record_id']}/transitions",
                json={"to": "cancelled", "reason": "no budget"},
            )
        )
        for event in (
            calibration(performed_on="2025-02-10", next_due="2026-02-10"),
            calibration(),
            calibration(kind="repair", result="fail", certificate_no=None, next_due=None),
        ):
            await _ok(await admin.post(f"/v1/meters/{meter}/calibrations", json=event), 201)
        audits = [await audit_count(api_server, e) for e in ("objective", "measure", "meter")]

        sheet = cells(await round_trip(own, own, "/v1/objectives", 2))
        assert sheet[0] == list(OBJECTIVES.columns)
        assert sheet[2][OBJECTIVES.columns.index("indicator")].startswith("'=")  # formula-safe
        assert sorted(r[3] for r in sheet[2:]) == ["achieved", "active"]
        sheet = cells(await round_trip(own, own, "/v1/measures", 2))
        assert sheet[0] == list(MEASURES.columns)
        assert [r[3] for r in sheet[2:]] == ["proposed", "cancelled"]
        assert sheet[2][MEASURES.columns.index("meter_ids")] == meter
        # The log is written by registry writers (an admin); the tenant reads its own meters'.
        sheet = cells(await round_trip(own, admin, "/v1/calibrations", 3))
        assert sheet[0] == list(CALIBRATIONS.columns)
        # Only the certificate whose next_due is the meter's calibration_due is in force.
        assert [(r[3], r[CALIBRATIONS.columns.index("next_due")]) for r in sheet[2:]] == [
            ("archived", datetime(2026, 2, 10)),
            ("active", datetime(2027, 2, 10)),
            ("archived", None),
        ]
        assert [await audit_count(api_server, e) for e in ("objective", "measure", "meter")] == (
            audits
        )


async def test_a_sheet_changes_what_patch_changes_and_refuses_the_rest(
    api_server: ApiServer, admin: httpx.AsyncClient, make_key: MakeKey, unique: str
) -> None:
    ent = f"mimp-{unique}"
    await _enterprise(api_server, ent)
    target = await _target(admin, ent)
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as own:
        made = await _ok(await own.post("/v1/measures", json=measure(ent)), 201)
        mid = made["record_id"]
        exported = cells((await own.get("/v1/measures/export")).content)
        header, row = exported[0], exported[2]

        def edited(**changes: Any) -> bytes:
            return sheet_of([header, [changes.get(c, v) for c, v in zip(header, row, strict=True)]])

        r = await own.post("/v1/measures/import", content=edited(owner="li.na"), headers=XLSX)
        assert [x["outcome"] for x in (await _ok(r))["rows"]] == ["updated"]
        assert (await _ok(await own.get(f"/v1/measures/{mid}")))["owner"] == "li.na"
        for refused in (
            {"status": "approved"},  # the workflow moves through transitions
            {"source_category": "stationary_combustion"},
            {"planned_end": datetime(2029, 1, 1)},  # before planned_start
        ):
            r = await own.post("/v1/measures/import", content=edited(**refused), headers=XLSX)
            assert r.status_code == 422, r.text
            assert [x["outcome"] for x in r.json()["rows"]] == ["rejected"]
        assert (await _ok(await own.get(f"/v1/measures/{mid}")))["status"] == "proposed"
        # A new row is proposed; the rows around a bad one are not stored either.
        new = [None if c == "record_id" else v for c, v in zip(header, row, strict=True)]
        bad = [*new[:-1], "no-such-meter"]
        r = await own.post(
            "/v1/measures/import", content=sheet_of([header, new, bad]), headers=XLSX
        )
        assert [x["outcome"] for x in r.json()["rows"]] == ["valid", "rejected"]
        assert len((await own.get("/v1/measures")).json()["items"]) == 1
        # An objective keeps its target; another enterprise's target reads as absent.
        await _ok(await own.post("/v1/objectives", json=objective(ent, target)), 201)
        exported = cells((await own.get("/v1/objectives/export")).content)
        header, row = exported[0], exported[2]
        other = await _target(admin, ENTERPRISE_A)
        at = header.index("target_id")
        moved = [*row[:at], other, *row[at + 1 :]]
        created = [None, *moved[1:]]
        for rows in ([moved], [created]):
            r = await own.post(
                "/v1/objectives/import", content=sheet_of([header, *rows]), headers=XLSX
            )
            assert r.status_code == 422, r.text


async def test_each_sheets_status_column_holds_its_own_registers_states(
    api_server: ApiServer, admin: httpx.AsyncClient, make_key: MakeKey, unique: str
) -> None:
    """An objective's status is one of its own states (blank: active when new, as stored
    otherwise); a measure's is one of the workflow's, never a plain register's 'archived'."""
    ent = f"mst-{unique}"
    await _enterprise(api_server, ent)
    target = await _target(admin, ent)
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as own:
        body = objective(ent, target, indicator="tCO2e per year")  # no formula-like text
        header = ["status", *body]
        achieved = ["achieved", *body.values()]
        r = await own.post(
            "/v1/objectives/import", content=sheet_of([header, achieved]), headers=XLSX
        )
        [row] = (await _ok(r))["rows"]
        assert row["outcome"] == "created"
        made = await _ok(await own.get(f"/v1/objectives/{row['record_id']}"))
        assert made["status"] == "achieved"
        blank = [row["record_id"], *body.values()]
        r = await own.post(
            "/v1/objectives/import",
            content=sheet_of([["record_id", *header[1:]], blank]),
            headers=XLSX,
        )
        assert [x["outcome"] for x in (await _ok(r))["rows"]] == ["unchanged"]
        assert (await _ok(await own.get(f"/v1/objectives/{row['record_id']}")))["status"] == (
            "achieved"
        )
        header = ["status", *measure(ent)]
        r = await own.post(
            "/v1/measures/import",
            content=sheet_of([header, ["archived", *measure(ent).values()]]),
            headers=XLSX,
        )
        assert r.status_code == 422, r.text
        [refused] = r.json()["rows"]
        assert refused["outcome"] == "rejected"
        assert refused["errors"][0].startswith("status: Input should be 'proposed'")
        assert (await _ok(await own.get("/v1/measures")))["items"] == []


async def test_a_calibration_row_belongs_to_its_meters_enterprise(
    admin: httpx.AsyncClient, unique: str
) -> None:
    """A logged event is its meter's: a row may leave park and enterprise blank, and one that
    names another enterprise, or an event the log does not hold, is refused."""
    meter = f"cown-{unique}"
    await _meter(admin, meter, ENTERPRISE_A, calibration_due="2026-01-01")
    header = ["enterprise_id", "meter_id", *calibration()]
    elsewhere = [ENTERPRISE_B, meter, *calibration().values()]
    r = await admin.post(
        "/v1/calibrations/import", content=sheet_of([header, elsewhere]), headers=XLSX
    )
    assert r.status_code == 422, r.text
    assert r.json()["rows"][0]["errors"] == [
        f"enterprise_id: meter {meter!r} is {ENTERPRISE_A!r}'s"
    ]
    named = [ENTERPRISE_A, meter, *calibration().values()]
    r = await admin.post("/v1/calibrations/import", content=sheet_of([header, named]), headers=XLSX)
    [created] = (await _ok(r))["rows"]
    assert created["outcome"] == "created"
    missing = created["record_id"] + 10**9
    r = await admin.post(
        "/v1/calibrations/import",
        content=sheet_of([["record_id", *header], [missing, *named]]),
        headers=XLSX,
    )
    assert r.status_code == 422, r.text
    assert r.json()["rows"][0]["errors"] == [f"no calibration event {missing}"]


async def test_a_logged_row_moves_calibration_due_and_a_changed_row_is_refused(
    admin: httpx.AsyncClient, unique: str
) -> None:
    meter = f"cimp-{unique}"
    await _meter(admin, meter, ENTERPRISE_A, calibration_due="2026-01-01")
    header = ["meter_id", *[c for c in calibration()]]
    r = await admin.post(
        "/v1/calibrations/import",
        content=sheet_of([header, [meter, *calibration().values()]]),
        headers=XLSX,
    )
    [created] = (await _ok(r))["rows"]
    assert created["outcome"] == "created"
    assert (await _ok(await admin.get(f"/v1/meters/{meter}")))["calibration_due"] == "2027-02-10"
    row = ["record_id", *header]
    changed = [created["record_id"], meter, *calibration(laboratory="another lab").values()]
    r = await admin.post("/v1/calibrations/import", content=sheet_of([row, changed]), headers=XLSX)
    assert r.status_code == 422 and "append-only" in r.json()["rows"][0]["errors"][0]


async def test_a_failed_calibration_opens_a_nonconformity_with_the_event(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    meter = f"cfail-{unique}"
    await _meter(admin, meter, ENTERPRISE_A, calibration_due="2027-01-01")
    path = f"/v1/meters/{meter}/calibrations"
    passed = await _ok(await admin.post(path, json=calibration()), 201)
    assert passed["ticket_id"] is None
    failed = await _ok(
        await admin.post(
            path,
            json=calibration(performed_on="2026-05-01", result="fail", next_due=None, note="+2 %"),
        ),
        201,
    )
    assert failed["ticket_id"] is not None
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        cur = await conn.execute(
            "SELECT source_kind, source_id, kind, subject_kind, subject_id, state, title,"
            " description FROM ticket WHERE ticket_id = %s",
            (failed["ticket_id"],),
        )
        ticket = await cur.fetchone()
        cur = await conn.execute(
            "SELECT count(*) FROM webhook_message WHERE event_type = 'ticket.opened'"
            " AND (body::jsonb -> 'data' ->> 'ticket_id')::bigint = %s",
            (failed["ticket_id"],),
        )
        announced = await cur.fetchone()
    assert ticket is not None and announced == (1,)
    assert ticket[:6] == (
        "observation",
        str(failed["event_id"]),
        "corrective",
        "enterprise",
        ENTERPRISE_A,
        "open",
    )
    assert meter in ticket[6] and "JJ-2026-0117" in ticket[7] and "+2 %" in ticket[7]
    # A failure found in a refused import opens nothing: the ticket shares the import's fate.
    header = ["meter_id", *calibration()]
    fail = calibration(performed_on="2026-06-01", result="fail", next_due=None)
    fail_row = [meter, *fail.values()]
    bad_row = ["no-such-meter", *calibration().values()]
    r = await admin.post(
        "/v1/calibrations/import", content=sheet_of([header, fail_row, bad_row]), headers=XLSX
    )
    assert [x["outcome"] for x in r.json()["rows"]] == ["valid", "rejected"]
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM ticket t JOIN meter_calibration c"
            " ON t.source_kind = 'observation' AND t.source_id = c.event_id::text"
            " WHERE c.meter_id = %s",
            (meter,),
        )
        assert await cur.fetchone() == (1,)


async def _reminded(server: ApiServer, event_type: str, record_id: int) -> list[dict[str, Any]]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        cur = await conn.execute(
            "SELECT body::jsonb -> 'data' FROM webhook_message WHERE event_type = %s"
            " AND (body::jsonb -> 'data' ->> 'record_id')::bigint = %s",
            (event_type, record_id),
        )
        return [r[0] for r in await cur.fetchall()]


async def _check(server: ApiServer, spec: RegisterSpec, at: datetime) -> None:
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await reminders.check(conn, [spec], now=at)


# 2030-06-30 ends in Asia/Shanghai at 2030-06-30T16:00Z.
BEFORE = datetime(2030, 6, 30, 15, 59, tzinfo=UTC)
AFTER = datetime(2030, 6, 30, 16, 0, tzinfo=UTC)


async def test_an_objectives_due_date_is_announced_once(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    ent = f"mrem-{unique}"
    await _enterprise(api_server, ent)
    target = await _target(admin, ent)
    made = await _ok(
        await admin.post("/v1/objectives", json=objective(ent, target, due_on="2030-06-30")), 201
    )
    await _check(api_server, OBJECTIVES, BEFORE)
    assert await _reminded(api_server, "objective.due", made["record_id"]) == []
    await _check(api_server, OBJECTIVES, AFTER)
    await _check(api_server, OBJECTIVES, AFTER)
    assert await _reminded(api_server, "objective.due", made["record_id"]) == [
        {
            "register": "objective",
            "record_id": made["record_id"],
            "date_kind": "due",
            "due_on": "2030-06-30",
            "title": made["title"],
            "park_id": PARK,
            "enterprise_id": ent,
            "summary": f"碳管理目标“{made['title']}”于 2030年6月30日 到期",
            "summary_lang": "zh-CN",
        }
    ]


async def test_the_planned_end_of_open_measures_only_is_announced(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    ent = f"mrem2-{unique}"
    await _enterprise(api_server, ent)
    open_one = await _ok(await admin.post("/v1/measures", json=measure(ent)), 201)
    dropped = await _ok(await admin.post("/v1/measures", json=measure(ent)), 201)
    await _ok(
        await admin.post(
            f"/v1/measures/{dropped['record_id']}/transitions",
            json={"to": "cancelled", "reason": "superseded"},
        )
    )
    await _check(api_server, MEASURES, BEFORE)
    assert await _reminded(api_server, "measure.due", open_one["record_id"]) == []
    await _check(api_server, MEASURES, AFTER)
    await _check(api_server, MEASURES, AFTER)
    [event] = await _reminded(api_server, "measure.due", open_one["record_id"])
    assert (event["date_kind"], event["due_on"]) == ("planned_end", "2030-06-30")
    assert await _reminded(api_server, "measure.due", dropped["record_id"]) == []


async def test_the_next_due_date_in_force_is_announced_not_a_superseded_one(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    meter = f"crem-{unique}"
    await _meter(admin, meter, ENTERPRISE_A)
    old = await _ok(
        await admin.post(
            f"/v1/meters/{meter}/calibrations",
            json=calibration(performed_on="2029-06-01", next_due="2030-06-01"),
        ),
        201,
    )
    current = await _ok(
        await admin.post(
            f"/v1/meters/{meter}/calibrations",
            json=calibration(performed_on="2029-06-30", next_due="2030-06-30"),
        ),
        201,
    )
    await _check(api_server, CALIBRATIONS, BEFORE)
    assert await _reminded(api_server, "calibration.due", current["event_id"]) == []
    await _check(api_server, CALIBRATIONS, AFTER)
    await _check(api_server, CALIBRATIONS, AFTER)
    [event] = await _reminded(api_server, "calibration.due", current["event_id"])
    assert (event["title"], event["due_on"], event["enterprise_id"]) == (
        meter,
        "2030-06-30",
        ENTERPRISE_A,
    )
    assert event["register"] == "meter_calibration"
    assert await _reminded(api_server, "calibration.due", old["event_id"]) == []
