"""The factor catalogue over HTTP: packaged versions plus the park's own, each with its source;
versions of a key never overlap (clauses 6.3.1 e, 6.5, 6.7)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

# A key whose only packaged version is open-ended from 2013-10-15 (accounting/data).
KEY = "heat_default.heat"


def _override(valid_from: str, valid_to: str | None = None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "factor_key": KEY,
        "value": 0.105,
        "unit": "tCO2/GJ",
        "valid_from": valid_from,
        "valid_to": valid_to,
        "source": "Supplier heat certificate",
        "source_table": "table 2",
        "edition": "2025",
        "evidence": "single_source",
    }
    return body | over


async def test_the_catalogue_lists_packaged_factors_with_their_sources(
    auditor: httpx.AsyncClient,
) -> None:
    r = await auditor.get("/v1/factors", params={"key": "grid_avg.CN"})
    assert r.status_code == 200, r.text
    # Packaged versions only: other tests add park versions of this key (e.g. for 2019).
    versions = [v for v in r.json() if v["origin"] != "override"]
    assert [v["valid_from"] for v in versions][:3] == ["2021-01-01", "2022-01-01", "2023-01-01"]
    assert versions[0]["value"] == 0.5568 and versions[0]["unit"] == "kgCO2/kWh"
    assert all(v["source"] and v["table"] and v["edition"] for v in versions)
    params = {"catalogue": "conversion_parameter", "key": "density.diesel"}
    density = (await auditor.get("/v1/factors", params=params)).json()
    assert [(d["value"], d["unit"]) for d in density] == [(0.835, "kg/L")]


async def test_park_versions_close_open_ends_and_never_overlap(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, auditor: httpx.AsyncClient
) -> None:
    # Overrides are park-wide: this test owns heat_default.heat (a fresh database per run).
    first = await admin.post("/v1/factor-overrides", json=_override("2025-01-01"))
    assert first.status_code == 201, first.text
    assert first.json()["gas"] == "CO2" and first.json()["catalogue"] == "emission_factor"
    later = await admin.post(
        "/v1/factor-overrides", json=_override("2026-01-01", value=0.1, edition="2026")
    )
    assert later.status_code == 201, later.text
    overlapping = await admin.post(
        "/v1/factor-overrides", json=_override("2025-06-01", "2025-12-31")
    )
    assert overlapping.status_code == 409
    assert "overlaps" in overlapping.json()["detail"]  # 2025 is in force until 2025-12-31
    assert (
        await admin.post("/v1/factor-overrides", json=_override("2026-01-01"))
    ).status_code == 409

    versions = (await tenant_a.get("/v1/factors", params={"key": KEY})).json()
    assert [(v["valid_from"], v["effective_to"], v["origin"] == "override") for v in versions] == [
        ("2013-10-15", "2024-12-31", False),
        ("2025-01-01", "2025-12-31", True),
        ("2026-01-01", None, True),
    ]
    in_force = (await tenant_a.get("/v1/factors", params={"key": KEY, "on": "2025-07-01"})).json()
    assert [(v["value"], v["edition"]) for v in in_force] == [(0.105, "2025")]
    listed = (await auditor.get("/v1/factor-overrides", params={"factor_key": KEY})).json()
    assert listed["total"] == 2
    entries = (
        await auditor.get(
            "/v1/audit", params={"entity": "factor_override", "entity_id": f"{KEY}@2025-01-01"}
        )
    ).json()["items"]
    assert entries[0]["after"]["value"] == 0.105 and entries[0]["before"] is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"factor_key": "no.such.key"}, "unknown factor key"),
        ({"unit": "kgCH4/GJ"}, "unit"),  # the key is a CO2 factor
        ({"gas": "CH4"}, "gas CO2"),
        ({"value": "0.1"}, "value"),  # a string is not a number
        ({"value": -1}, "value"),
        ({"source": ""}, "source"),
        ({"source": "   "}, "source is blank"),
        ({"valid_to": "2000-01-01"}, "before valid_from"),
        ({"extra": 1}, "extra"),
        ({"evidence": "trust me"}, "evidence"),
        ({"factor_key": "density.diesel", "unit": "kg/m3", "gas": None}, "kg/L"),
    ],
)
async def test_a_bad_override_is_422_naming_the_problem(
    admin: httpx.AsyncClient, change: dict[str, Any], says: str
) -> None:
    r = await admin.post("/v1/factor-overrides", json=_override("2030-01-01") | change)
    assert r.status_code == 422, r.text
    assert says in r.text


async def test_an_overlap_with_a_closed_packaged_version_is_409(admin: httpx.AsyncClient) -> None:
    body = _override("2021-06-01", "2021-06-30", factor_key="grid_avg.CN", unit="kgCO2/kWh")
    r = await admin.post("/v1/factor-overrides", json=body)
    assert r.status_code == 409
    assert r.json()["version"] == "grid_avg.CN@2021-01-01"


async def test_only_admins_add_overrides(
    operator: httpx.AsyncClient, auditor: httpx.AsyncClient, tenant_a: httpx.AsyncClient
) -> None:
    for client in (operator, auditor, tenant_a):
        r = await client.post("/v1/factor-overrides", json=_override("2031-01-01"))
        assert r.status_code == 403
