"""Meters over HTTP: all registry fields, checks against the accounting vocabularies, strict
bodies, tenancy, pages, retirement and device replacement with history (clauses 8.3, 9.1 c)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B

pytestmark = pytest.mark.integration


def _meter(meter_id: str, enterprise_id: str = ENTERPRISE_A, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meter_id": meter_id,
        "enterprise_id": enterprise_id,
        "name": "incomer 1",
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
        "multiplier": 200,
        "rollover": 1_000_000.0,
        "expected_interval_s": 900,
        "accuracy_class": "0.5S",
        "metering_level": "unit",
        "accuracy_category": "user_class_II",
        "calibration_due": "2030-06-30",
        "factor_key": "cn_ets_grid",
        "in_boundary": True,
        "max_rate_per_h": 5000.0,
        "serial": "SN-OLD-1",
        "installed_at": "2024-01-01T00:00:00Z",
    }
    return body | over


async def _create(admin: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await admin.post("/v1/meters", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_a_meter_is_stored_with_every_registry_field(
    admin: httpx.AsyncClient, unique: str
) -> None:
    body = _meter(f"m-{unique}")
    created = await _create(admin, body)
    fetched = (await admin.get(f"/v1/meters/m-{unique}")).json()
    assert fetched == created
    sent = {k: v for k, v in body.items() if k != "installed_at"}
    assert {k: fetched[k] for k in sent} == {**sent, "multiplier": 200.0}
    assert fetched["status"] == "active" and fetched["retired_at"] is None
    assert fetched["installed_at"] == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"carrier": "plutonium"}, "carrier"),
        ({"register_kind": "sometimes"}, "register_kind"),
        ({"source_category": "vibes"}, "source_category"),
        ({"multiplier": "200"}, "multiplier"),  # a string is not a number
        ({"multiplier": True}, "multiplier"),  # nor is a boolean
        ({"multiplier": 0}, "multiplier"),
        ({"expected_interval_s": 900.5}, "expected_interval_s"),
        ({"in_boundary": "yes"}, "in_boundary"),
        ({"colour": "red"}, "colour"),  # unknown field
        ({"meter_id": "has space"}, "meter_id"),
        ({"unit": "kW"}, "activity_only"),  # a rate is not accounted activity
        ({"factor_key": "ndrc_heat_default"}, "no factor for carrier 'electricity'"),
        ({"factor_key": "grid_avg.CN"}, "entry of series 'mee_nbs_grid_average'"),
        ({"factor_key": "made_up"}, "not a factor series"),
        ({"accuracy_class": "fine"}, "accuracy class"),
        ({"range_min": 10.0, "range_max": 5.0}, "range"),
        ({"register_kind": "instantaneous", "source_category": "activity_only"}, "roll"),
        ({"site_id": None, "enterprise_id": "nobody"}, "unknown enterprise 'nobody'"),
    ],
)
async def test_a_bad_meter_is_422_with_a_clear_detail(
    admin: httpx.AsyncClient, unique: str, change: dict[str, Any], says: str
) -> None:
    r = await admin.post("/v1/meters", json=_meter(f"bad-{unique}") | change)
    assert r.status_code == 422, r.text
    assert says in r.text
    assert (await admin.get(f"/v1/meters/bad-{unique}")).status_code == 404


async def test_a_site_of_another_enterprise_is_refused(
    admin: httpx.AsyncClient, unique: str
) -> None:
    site = {"site_id": f"sb-{unique}", "enterprise_id": ENTERPRISE_B, "name": "b yard"}
    assert (await admin.post("/v1/sites", json=site)).status_code == 201
    r = await admin.post("/v1/meters", json=_meter(f"m-{unique}", site_id=f"sb-{unique}"))
    assert r.status_code == 422
    assert "does not belong to enterprise" in r.json()["detail"]


async def test_a_duplicate_meter_is_409(admin: httpx.AsyncClient, unique: str) -> None:
    await _create(admin, _meter(f"m-{unique}"))
    assert (await admin.post("/v1/meters", json=_meter(f"m-{unique}"))).status_code == 409


async def test_a_patch_is_checked_whole_and_audited_before_and_after(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    created = await _create(admin, _meter(f"m-{unique}"))
    r = await admin.patch(f"/v1/meters/m-{unique}", json={"unit": "MWh", "calibration_due": None})
    assert r.status_code == 200, r.text
    after = r.json()
    assert (after["unit"], after["calibration_due"]) == ("MWh", None)
    assert after["updated_at"] > created["updated_at"]  # the registry's fingerprint moves
    # The merged row must still hold together: a rate unit on an accounted meter does not.
    assert (await admin.patch(f"/v1/meters/m-{unique}", json={"unit": "kW"})).status_code == 422
    assert (await admin.patch(f"/v1/meters/m-{unique}", json={"carrier": None})).status_code == 422
    r = await admin.patch(f"/v1/meters/m-{unique}", json={"enterprise_id": ENTERPRISE_B})
    assert r.status_code == 422
    audit = await auditor.get("/v1/audit", params={"entity": "meter", "entity_id": f"m-{unique}"})
    entries = audit.json()["items"]
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["before"]["unit"] == "kWh" and entries[0]["after"]["unit"] == "MWh"
    assert entries[0]["before"]["calibration_due"] == "2030-06-30"
    assert entries[0]["after"]["calibration_due"] is None


async def test_an_enterprise_key_sees_only_its_own_meters(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    await _create(admin, _meter(f"a-{unique}"))
    await _create(admin, _meter(f"b-{unique}", ENTERPRISE_B))
    assert (await tenant_a.get(f"/v1/meters/a-{unique}")).status_code == 200
    assert (await tenant_a.get(f"/v1/meters/b-{unique}")).status_code == 404
    assert (await tenant_a.get(f"/v1/meters/b-{unique}/replacements")).status_code == 404
    mine = (await tenant_a.get("/v1/meters", params={"limit": 500})).json()
    assert {m["enterprise_id"] for m in mine["items"]} == {ENTERPRISE_A}
    theirs = await tenant_a.get("/v1/meters", params={"enterprise_id": ENTERPRISE_B})
    assert theirs.json()["items"] == [] and theirs.json()["total"] == 0
    assert (await tenant_a.post("/v1/meters", json=_meter(f"c-{unique}"))).status_code == 403
    r = await tenant_a.patch(f"/v1/meters/a-{unique}", json={"name": "mine now"})
    assert r.status_code == 403


async def test_meter_pages_are_stable_ordered_and_counted(
    admin: httpx.AsyncClient, unique: str
) -> None:
    site = {"site_id": f"pg-{unique}", "enterprise_id": ENTERPRISE_A, "name": "paging"}
    assert (await admin.post("/v1/sites", json=site)).status_code == 201
    ids = [f"p{i}-{unique}" for i in range(5)]
    for meter_id in reversed(ids):
        await _create(admin, _meter(meter_id, site_id=f"pg-{unique}"))
    seen = []
    for offset in (0, 2, 4):
        params = {"site_id": f"pg-{unique}", "limit": 2, "offset": offset}
        page = (await admin.get("/v1/meters", params=params)).json()
        assert page["total"] == 5
        seen += [m["meter_id"] for m in page["items"]]
    assert seen == sorted(ids)
    gas = await admin.get("/v1/meters", params={"site_id": f"pg-{unique}", "carrier": "heat"})
    assert gas.json()["total"] == 0
    assert (await admin.get("/v1/meters", params={"limit": 0})).status_code == 422


async def test_a_retired_meter_is_listed_as_retired_and_cannot_retire_twice(
    admin: httpx.AsyncClient, unique: str
) -> None:
    await _create(admin, _meter(f"m-{unique}"))
    r = await admin.post(f"/v1/meters/m-{unique}/retire", json={"reason": "feeder removed"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "retired" and r.json()["retired_at"] is not None
    again = await admin.post(f"/v1/meters/m-{unique}/retire", json={"reason": "again"})
    assert again.status_code == 409
    retired = await admin.get("/v1/meters", params={"status": "retired", "limit": 500})
    assert f"m-{unique}" in [m["meter_id"] for m in retired.json()["items"]]
    swap = {
        "replaced_at": "2025-01-01T00:00:00Z",
        "new_serial": "N",
        "final_register": 1.0,
        "initial_register": 0.0,
        "reason": "x",
    }
    assert (await admin.post(f"/v1/meters/m-{unique}/replacements", json=swap)).status_code == 409


async def test_a_replacement_keeps_the_meter_id_the_registers_and_the_history(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    meter_id = f"m-{unique}"
    await _create(admin, _meter(meter_id))
    first = {
        "replaced_at": "2025-03-01T08:00:00Z",
        "old_serial": "SN-OLD-1",
        "new_serial": "SN-NEW-2",
        "final_register": 12345.6,
        "initial_register": 0.0,
        "multiplier": 400,  # the new device sits behind a 2000/5 CT instead of 1000/5
        "reason": "display failed",
    }
    r = await admin.post(f"/v1/meters/{meter_id}/replacements", json=first)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert (stored["multiplier_before"], stored["multiplier_after"]) == (200.0, 400.0)
    assert (stored["final_register"], stored["initial_register"]) == (12345.6, 0.0)
    meter = (await admin.get(f"/v1/meters/{meter_id}")).json()
    assert (meter["serial"], meter["multiplier"], meter["status"]) == ("SN-NEW-2", 400.0, "active")

    second = first | {
        "replaced_at": "2025-09-01T08:00:00Z",
        "new_serial": "SN-3",
        "final_register": 77.0,
        "initial_register": 5.0,
    }
    second.pop("multiplier")
    second.pop("old_serial")
    assert (await admin.post(f"/v1/meters/{meter_id}/replacements", json=second)).status_code == 201
    history = (await admin.get(f"/v1/meters/{meter_id}/replacements")).json()
    assert [(h["old_serial"], h["new_serial"]) for h in history] == [
        ("SN-OLD-1", "SN-NEW-2"),
        ("SN-NEW-2", "SN-3"),
    ]
    assert history[1]["multiplier_before"] == history[1]["multiplier_after"] == 400.0

    dup = await admin.post(f"/v1/meters/{meter_id}/replacements", json=first | {"old_serial": None})
    assert dup.status_code == 409  # one swap per instant
    wrong = first | {"replaced_at": "2025-10-01T00:00:00Z", "old_serial": "SN-OLD-1"}
    assert (await admin.post(f"/v1/meters/{meter_id}/replacements", json=wrong)).status_code == 409
    future = first | {"replaced_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    future.pop("old_serial")
    r = await admin.post(f"/v1/meters/{meter_id}/replacements", json=future)
    assert r.status_code == 422 and "future" in r.json()["detail"]
    over = first | {"replaced_at": "2025-11-01T00:00:00Z", "final_register": 2_000_000.0}
    over.pop("old_serial")
    assert (await admin.post(f"/v1/meters/{meter_id}/replacements", json=over)).status_code == 422
    text = first | {"final_register": "12345.6"}
    assert (await admin.post(f"/v1/meters/{meter_id}/replacements", json=text)).status_code == 422

    params = {"entity": "meter", "entity_id": meter_id}
    entries = (await auditor.get("/v1/audit", params=params)).json()["items"]
    assert [e["action"] for e in entries] == ["replace", "replace", "create"]
    assert entries[-2]["before"]["serial"] == "SN-OLD-1"
    assert entries[-2]["after"]["serial"] == "SN-NEW-2"
    assert entries[-2]["after"]["replacement"]["final_register"] == 12345.6


async def test_odd_input_is_a_4xx_never_a_500(admin: httpx.AsyncClient, unique: str) -> None:
    await _create(admin, _meter(f"m-{unique}"))
    swap = {"replaced_at": "2025-01-01T00:00:00", "new_serial": "N", "final_register": 1.0,
            "initial_register": 0.0, "reason": "x"}  # fmt: skip
    r = await admin.post(f"/v1/meters/m-{unique}/replacements", json=swap)
    assert r.status_code == 422 and "timezone" in r.text  # a time without a zone is ambiguous
    assert (await admin.get("/v1/meters/a%00b")).status_code == 404
    r = await admin.get("/v1/meters", params={"site_id": "a\x00b"})  # outside the id alphabet
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "site_id"]
    r = await admin.patch(f"/v1/meters/m-{unique}", json={"name": "nul\x00name"})
    assert r.status_code == 422
    assert (await admin.get("/v1/audit", params={"actor": "a\x00"})).json()["items"] == []


@pytest.mark.parametrize("carrier", ["lpg", "fuel_oil"])
async def test_a_fuel_in_litres_without_a_density_row_is_422_naming_the_row_to_add(
    admin: httpx.AsyncClient, unique: str, carrier: str
) -> None:
    fuel = {
        "carrier": carrier,
        "unit": "L",
        "source_category": "stationary_combustion",
        "factor_key": None,
        "accuracy_class": "1.0",
        "accuracy_category": None,
    }
    r = await admin.post("/v1/meters", json=_meter(f"f-{unique}") | fuel)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        f"unit L for carrier {carrier} needs a density row (kg/L) for {carrier} in"
        " accounting/data/conversion_parameters.csv or added with POST /v1/factor-overrides"
        " (parameter density), or register the meter in a mass unit (t, kg)"
    )
    # The same fuel in tonnes is accepted, and a change to litres is refused the same way.
    await _create(admin, _meter(f"f-{unique}") | fuel | {"unit": "t"})
    r = await admin.patch(f"/v1/meters/f-{unique}", json={"unit": "L"})
    assert r.status_code == 422, r.text
    assert "needs a density row (kg/L)" in r.json()["detail"]
    # Diesel has its density row (GB 19147-2016): litres are fine.
    diesel = fuel | {"carrier": "diesel"}
    await _create(admin, _meter(f"d-{unique}") | diesel)
