"""An enterprise's own factor versions and new keys through ``/v1/factor-overrides``, and the
stream worker applying an enterprise's version to that enterprise's meters only (GB/T
32150-2015 6.3.1 e: measured values before defaults; clauses 6.5, 6.7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import psycopg
import pytest

from accounting.factors import load_catalogue
from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey
from tests.conftest import RunningWorker
from tests.stream.test_overrides import push_registers
from tests.stream.test_worker import _wait_rows

pytestmark = pytest.mark.integration

SOURCE = {
    "source": "Enterprise test report",
    "source_table": "table 3",
    "edition": "2023",
    "evidence": "single_source",
}


def _enterprises(db: psycopg.Connection[Any], unique: str, n: int = 2) -> list[str]:
    db.execute(
        "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'p', 'Asia/Shanghai')",
        (f"ef-{unique}",),
    )
    ents = [f"ef-{unique}-{i}" for i in range(n)]
    for ent in ents:
        db.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, f"ef-{unique}", ent),
        )
    return ents


async def test_an_enterprise_version_is_listed_apart_audited_and_seen_by_its_tenant_only(
    admin: httpx.AsyncClient,
    api_server: ApiServer,
    make_key: MakeKey,
    db: psycopg.Connection[Any],
    unique: str,
) -> None:
    mine, other = _enterprises(db, unique)
    # The enterprise's measured NCV of its natural gas (the packaged one stays the park's).
    body = {
        "factor_key": "fuel.natural_gas.ncv",
        "enterprise_id": mine,
        "value": 0.0360,
        "unit": "GJ/Nm3",
        "valid_from": "2024-01-01",
        **SOURCE,
    }
    r = await admin.post("/v1/factor-overrides", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["enterprise_id"] == mine and r.json()["catalogue"] == "emission_factor"
    # Its chain is its own: a second, overlapping version of the same enterprise is 409.
    again = await admin.post("/v1/factor-overrides", json=body | {"valid_from": "2024-06-01"})
    assert again.status_code == 201, again.text  # open-ended 2024-01-01 ends 2024-05-31
    clash = await admin.post(
        "/v1/factor-overrides", json=body | {"valid_from": "2024-03-01", "valid_to": "2024-03-31"}
    )
    assert clash.status_code == 409, clash.text
    listed = (await admin.get("/v1/factors", params={"key": "fuel.natural_gas.ncv"})).json()
    own = [(v["valid_from"], v["effective_to"]) for v in listed if v["enterprise_id"] == mine]
    assert own == [("2024-01-01", "2024-05-31"), ("2024-06-01", None)]
    park = [v for v in listed if v["enterprise_id"] is None]
    assert park and park[-1]["effective_to"] is None  # the park's chain is not cut by it
    entries = (
        await admin.get(
            "/v1/audit",
            params={
                "entity": "factor_override",
                "entity_id": f"fuel.natural_gas.ncv@2024-01-01:{mine}",
            },
        )
    ).json()["items"]
    assert entries[0]["after"]["value"] == 0.036 and entries[0]["after"]["enterprise_id"] == mine
    # Another enterprise's key does not see it.
    token = await make_key(Role.ENTERPRISE, enterprise_id=other)
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as tenant:
        seen = (await tenant.get("/v1/factors", params={"key": "fuel.natural_gas.ncv"})).json()
        assert {v["enterprise_id"] for v in seen} == {None}


async def test_a_province_without_a_published_factor_gets_a_new_key(
    admin: httpx.AsyncClient,
) -> None:
    # Tibet (CN-XZ) has no provincial grid factor in the packaged catalogue.
    body = {
        "factor_key": "grid_avg.CN-XZ",
        "series": "mee_nbs_grid_average",
        "carrier": "electricity",
        "parameter": "emission_factor",
        "region": "CN-XZ",
        "gas": "CO2",
        "value": 0.1234,
        "unit": "kgCO2/kWh",
        "valid_from": "2022-01-01",
        "valid_to": "2022-12-31",
        **SOURCE,
    }
    r = await admin.post("/v1/factor-overrides", json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["series"], r.json()["region"]) == ("mee_nbs_grid_average", "CN-XZ")
    listed = (await admin.get("/v1/factors", params={"key": "grid_avg.CN-XZ"})).json()
    assert [(v["region"], v["value"], v["source"]) for v in listed] == [
        ("CN-XZ", 0.1234, "Enterprise test report")
    ]
    # A later version of the new key keeps the identity it was given.
    later = body | {"valid_from": "2023-01-01", "valid_to": None}
    assert (await admin.post("/v1/factor-overrides", json=later)).status_code == 201
    wrong = body | {"valid_from": "2024-01-01", "valid_to": None, "region": "CN-YN"}
    r = await admin.post("/v1/factor-overrides", json=wrong)
    assert r.status_code == 422 and "region" in r.text


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({}, 422, "names its parameter"),  # an unknown key states what it is
        ({"parameter": "emission_factor"}, 422, "names its series"),
        ({"parameter": "emission_factor", "series": "mee_nbs_grid_average"}, 422, "carrier"),
        ({"parameter": "density"}, 422, "names its carrier"),
        ({"parameter": "density", "carrier": "lpg", "unit": "kg/m3"}, 422, "kg/L"),
        ({"enterprise_id": "no-such-enterprise"}, 422, "unknown enterprise"),
        # the same factor as a packaged key under another name
        (
            {
                "parameter": "emission_factor",
                "series": "mee_nbs_grid_average",
                "carrier": "electricity",
                "region": "CN",
                "gas": "CO2",
                "unit": "kgCO2/kWh",
            },
            409,
            "grid_avg.CN",
        ),
    ],
)
async def test_a_new_key_that_is_incomplete_or_a_duplicate_is_refused(
    admin: httpx.AsyncClient, unique: str, change: dict[str, Any], status: int, says: str
) -> None:
    body = {
        "factor_key": f"new.{unique}",
        "value": 0.5,
        "unit": "kg/L",
        "valid_from": "2024-01-01",
        **SOURCE,
    }
    r = await admin.post("/v1/factor-overrides", json=body | change)
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]


async def test_a_density_added_for_an_enterprise_makes_its_litre_meter_acceptable(
    admin: httpx.AsyncClient, db: psycopg.Connection[Any], unique: str
) -> None:
    mine, other = _enterprises(db, unique)
    meter = {
        "carrier": "lpg",
        "unit": "L",
        "register_kind": "cumulative",
        "source_category": "stationary_combustion",
        "accuracy_class": "1.0",
    }
    refused = await admin.post(
        "/v1/meters", json={"meter_id": f"lpg-{unique}-0", "enterprise_id": mine, **meter}
    )
    assert refused.status_code == 422 and "density" in refused.json()["detail"]
    density = {
        "factor_key": "density.lpg",
        "parameter": "density",
        "carrier": "lpg",
        "enterprise_id": mine,
        "value": 0.54,
        "unit": "kg/L",
        "valid_from": "2020-01-01",
        **SOURCE,
    }
    r = await admin.post("/v1/factor-overrides", json=density)
    assert r.status_code == 201, r.text
    assert r.json()["catalogue"] == "conversion_parameter"
    ok = await admin.post(
        "/v1/meters", json={"meter_id": f"lpg-{unique}-1", "enterprise_id": mine, **meter}
    )
    assert ok.status_code == 201, ok.text
    # Only that enterprise's: the other one's litre meter is still refused.
    theirs = await admin.post(
        "/v1/meters", json={"meter_id": f"lpg-{unique}-2", "enterprise_id": other, **meter}
    )
    assert theirs.status_code == 422, theirs.text


T0 = int(datetime(2023, 3, 10, 8, tzinfo=UTC).timestamp() * 1000)  # 16:00 in Beijing


async def test_the_worker_applies_an_enterprise_version_to_its_meters_only(
    admin: httpx.AsyncClient,
    worker: RunningWorker,
    kafka_bootstrap: str,
    db: psycopg.Connection[Any],
    unique: str,
) -> None:
    mine, other = _enterprises(db, unique)
    meters = {}
    for ent in (mine, other):
        meters[ent] = f"EF-{ent}"
        created = await admin.post(
            "/v1/meters",
            json={
                "meter_id": meters[ent],
                "enterprise_id": ent,
                "carrier": "electricity",
                "unit": "kWh",
                "register_kind": "cumulative",
                "source_category": "purchased_electricity",
                "accuracy_class": "0.5S",
                "installed_at": "2023-01-01T00:00:00Z",
            },
        )
        assert created.status_code == 201, created.text
    # The enterprise's supplier states 0.4321 kgCO2/kWh for March 2023.
    version = {
        "factor_key": "grid_avg.CN",
        "enterprise_id": mine,
        "gas": "CO2",
        "value": 0.4321,
        "unit": "kgCO2/kWh",
        "valid_from": "2023-03-01",
        "valid_to": "2023-03-31",
        **SOURCE,
    }
    r = await admin.post("/v1/factor-overrides", json=version)
    assert r.status_code == 201, r.text
    db.execute("SELECT pg_sleep(0.5)")  # longer than the worker's registry refresh interval
    for ent in (mine, other):
        # 100, 102, 105, 105, 109 kWh: 9 kWh in the hour
        await push_registers(
            worker, kafka_bootstrap, unique, meters[ent], T0, [100, 102, 105, 105, 109]
        )
    hours = {}
    for ent in (mine, other):
        (hours[ent],) = _wait_rows(
            db,
            "SELECT activity, tco2e, factor_versions FROM emission_window"
            " WHERE meter_id = %s AND width_s = 3600",
            (meters[ent],),
            1,
        )
    packaged = next(
        r for r in load_catalogue().rows if r.key == "grid_avg.CN" and r.valid_on(date(2023, 3, 10))
    )
    assert hours[mine][0] == hours[other][0] == 9.0
    assert hours[mine][1] == pytest.approx(9.0 * 0.4321 / 1000, rel=1e-12)
    assert list(hours[mine][2]) == ["grid_avg.CN@2023-03-01"]
    assert hours[other][1] == pytest.approx(9.0 * packaged.normalised, rel=1e-12)
    assert list(hours[other][2]) == [packaged.version]
