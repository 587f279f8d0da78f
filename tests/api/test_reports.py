"""``/v1/reports``: the March 2026 inventory and review of a hand-computed park
(tests/api/test_reports_data.py), in JSON, CSV, XLSX and HTML, and who may see what."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openpyxl
import pytest

from accounting.i18n import Lang, catalogue
from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey
from tests.api.test_reports_data import seed

pytestmark = pytest.mark.integration

TOL = 1e-9
RESIDUAL = 0.6096e-3  # t CO2 per kWh, residual mix from 2023 (accounting/data)
LOC = 0.5306 + 0.2653 + 0.228 + 1.0612
MKT = (1000 + 500 + 2000) * RESIDUAL + 0.228
E1_LOC, E1_MKT = 0.5306 + 0.2653 + 0.228, 1500 * RESIDUAL + 0.228
E2_LOC, E2_MKT = 1.0612, 2000 * RESIDUAL
ELEC_LOC = 0.5306 + 0.2653 + 1.0612


@pytest.fixture(scope="module")
def reports_url(api_server: ApiServer) -> str:
    return api_server.url


@pytest.fixture(scope="module")
def park(database_url: str) -> dict[str, str]:
    return seed(database_url, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
async def client_for(
    reports_url: str, make_key: MakeKey
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    clients: dict[str, httpx.AsyncClient] = {}

    async def make(name: str, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        clients[name] = httpx.AsyncClient(base_url=reports_url, headers=headers, timeout=60)
        return clients[name]

    await make("operator", await make_key(Role.OPERATOR))
    await make("anonymous", None)
    await make("no_scope", await make_key(Role.OPERATOR, scopes=["alerts:read"]))
    yield clients
    for client in clients.values():
        await client.aclose()


async def _tenant(
    client_for: dict[str, httpx.AsyncClient], make_key: MakeKey, enterprise: str
) -> httpx.AsyncClient:
    if enterprise not in client_for:
        token = await make_key(Role.ENTERPRISE, enterprise_id=enterprise)
        base = client_for["operator"].base_url
        client_for[enterprise] = httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
    return client_for[enterprise]


async def _inventory(client: httpx.AsyncClient, **params: str) -> Any:
    response = await client.get("/v1/reports/inventory", params=params)
    assert response.status_code == 200, response.text
    return response


def _by_key(rows: list[dict[str, Any]], key: str = "key") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


async def test_the_march_inventory_equals_the_hand_sums(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    body = (await _inventory(client_for["operator"], park=park["park"], period="2026-03")).json()
    assert body["period"] == {
        "kind": "month",
        "label": "2026-03",
        "start": "2026-03-01",
        "end": "2026-03-31",
        "timezone": "Asia/Shanghai",
    }
    totals = body["totals"]
    assert totals["location_tco2e"] == pytest.approx(LOC, abs=TOL)
    assert totals["market_tco2e"] == pytest.approx(MKT, abs=TOL)
    # The sink is a removal, apart: gross emissions are not reduced by it.
    assert totals["removals_tco2"] == pytest.approx(1.5, abs=TOL)
    assert _by_key(body["removals"], "enterprise_id")[park["e1"]]["tco2_removed"] == 1.5
    categories = _by_key(body["by_source_category"])
    assert set(categories) == {"purchased_electricity", "stationary_combustion"}
    assert categories["purchased_electricity"]["location_tco2e"] == pytest.approx(ELEC_LOC, abs=TOL)
    assert categories["purchased_electricity"]["market_tco2e"] == pytest.approx(
        3500 * RESIDUAL, abs=TOL
    )
    assert categories["stationary_combustion"]["market_tco2e"] == pytest.approx(0.228, abs=TOL)
    iso = _by_key(body["by_iso_category"])
    assert iso["2 indirect emissions from imported energy"]["location_tco2e"] == pytest.approx(
        ELEC_LOC, abs=TOL
    )
    assert iso["1 direct emissions and removals"]["location_tco2e"] == pytest.approx(0.228, abs=TOL)
    gases = _by_key(body["by_gas"], "gas")
    assert gases["CO2"]["location_tonnes"] == pytest.approx(ELEC_LOC + 0.2, abs=TOL)
    assert gases["CO2"]["market_tonnes"] == pytest.approx(3500 * RESIDUAL + 0.2, abs=TOL)
    assert gases["CH4"]["location_tonnes"] == pytest.approx(0.001, abs=TOL)
    assert gases["CH4"]["location_tco2e"] == pytest.approx(0.028, abs=TOL)  # AR5: 28
    ents = _by_key(body["by_enterprise"])
    assert ents[park["e1"]]["location_tco2e"] == pytest.approx(E1_LOC, abs=TOL)
    assert ents[park["e1"]]["market_tco2e"] == pytest.approx(E1_MKT, abs=TOL)
    assert ents[park["e2"]]["market_tco2e"] == pytest.approx(E2_MKT, abs=TOL)
    elec = _by_key(body["electricity"], "enterprise_id")
    assert elec[park["e1"]]["activity_kwh"] == pytest.approx(1500.0, abs=TOL)
    assert elec[park["e2"]]["location_tco2e"] == pytest.approx(E2_LOC, abs=TOL)
    assert body["residual_mix_versions"] == ["residual_mix.CN@2023-01-01"]
    [intensity] = body["intensity"]
    assert intensity["enterprise_id"] == park["e1"] and intensity["output"] == 10.0
    assert intensity["location_intensity"] == pytest.approx(E1_LOC / 10, abs=TOL)
    assert intensity["market_intensity"] == pytest.approx(E1_MKT / 10, abs=TOL)


async def test_the_inventory_states_energy_in_tce_by_hand_arithmetic(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    # GB/T 2589-2020, equal value (the park's default convention):
    #   E1 electricity 1500 kWh x 0.1229 kgce/kWh = 184.35 kgce
    #   E1 natural gas  100 Nm3 x 1.2143 kgce/Nm3 = 121.43 kgce  -> E1 305.78 kgce
    #   E2 electricity 2000 kWh x 0.1229 kgce/kWh = 245.80 kgce  -> park 551.58 kgce
    body = (await _inventory(client_for["operator"], park=park["park"], period="2026-03")).json()
    energy = body["energy"]
    assert energy["electricity_convention"] == "equal_value"
    assert energy["tce"] == pytest.approx(0.55158, abs=TOL)
    carriers = _by_key(energy["by_carrier"], "carrier")
    assert set(carriers) == {"electricity", "natural_gas"}  # products and sinks are not energy
    assert carriers["electricity"]["activity"] == pytest.approx(3500.0, abs=TOL)
    assert carriers["electricity"]["tce"] == pytest.approx(0.43015, abs=TOL)
    assert carriers["natural_gas"]["tce"] == pytest.approx(0.12143, abs=TOL)
    ents = _by_key(energy["by_enterprise"], "enterprise_id")
    assert ents[park["e1"]]["tce"] == pytest.approx(0.30578, abs=TOL)
    assert ents[park["e1"]]["tce_per_t_product"] == pytest.approx(0.030578, abs=TOL)  # / 10 t
    assert ents[park["e1"]]["tce_per_cny_10k"] is None  # no output-value meter
    assert ents[park["e2"]]["tce"] == pytest.approx(0.2458, abs=TOL)


async def test_targets_baselines_versions_and_quality_are_compared_by_hand(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    body = (await _inventory(client_for["operator"], park=park["park"], period="2026-03")).json()
    targets = {(t["subject_id"], t["kind"]): t for t in body["targets"]}
    month = targets[(park["e1"], "absolute")]
    assert month["actual"] == pytest.approx(E1_LOC, abs=TOL)
    assert month["attainment"] == pytest.approx(E1_LOC / 2.0, abs=TOL)
    assert month["within_limit"] is True and month["covered_share"] == 1.0
    per_t = targets[(park["e1"], "intensity")]  # market-based, t product
    assert per_t["actual"] == pytest.approx(E1_MKT / 10, abs=TOL)
    assert per_t["within_limit"] is True
    year = targets[(park["park"], "absolute")]
    assert year["covered_share"] == pytest.approx(31 / 365, abs=TOL)
    assert year["limit_for_covered"] == pytest.approx(12.0 * 31 / 365, abs=TOL)
    assert year["actual"] == pytest.approx(LOC, abs=TOL)
    assert year["within_limit"] is False
    [baseline] = body["baselines"]
    assert baseline["expected_tco2e"] == pytest.approx(36.5 * 31 / 365, abs=TOL)
    assert baseline["change_tco2e"] == pytest.approx(E1_LOC - 3.1, abs=TOL)
    versions = _by_key(body["factor_versions"], "version")
    grid = versions["grid_avg.CN@2023-01-01"]
    assert (grid["windows"], grid["activity"]) == (3, pytest.approx(3500.0, abs=TOL))
    assert grid["tco2e"] == pytest.approx(ELEC_LOC, abs=TOL)
    quality = body["quality"]
    per_meter = 31 * 86400 / 900  # readings the registry expects of one meter in March
    assert quality["completeness"] == pytest.approx(20 / (4 * per_meter), abs=TOL)
    assert quality["window_completeness"] == 1.0
    assert (quality["windows"], quality["interpolated_windows"]) == (5, 1)
    assert quality["interpolated_tco2e_share"] == pytest.approx(0.2653 / LOC, abs=TOL)
    assert quality["rejects_by_reason"] == {"SPIKE": 2, "OUT_OF_RANGE": 1}


async def test_csv_and_xlsx_hold_the_same_numbers_as_the_json(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    client, params = client_for["operator"], {"park": park["park"], "period": "2026-03"}
    body = (await _inventory(client, **params)).json()
    zipped = await _inventory(client, **params, format="csv")
    assert zipped.headers["content-type"] == "application/zip"
    assert "attachment" in zipped.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        names = set(archive.namelist())
        assert {"summary.csv", "by_enterprise.csv", "by_gas.csv", "targets.csv"} <= names
        rows = list(csv.DictReader(io.StringIO(archive.read("by_enterprise.csv").decode())))
        summary = dict(csv.reader(io.StringIO(archive.read("summary.csv").decode())))
    for row in rows:
        expected = _by_key(body["by_enterprise"])[row["key"]]
        assert float(row["location_tco2e"]) == expected["location_tco2e"]  # exact round trip
        assert float(row["market_tco2e"]) == expected["market_tco2e"]
    assert float(summary["totals.location_tco2e"]) == pytest.approx(LOC, abs=TOL)
    assert float(summary["totals.removals_tco2"]) == 1.5

    book = await _inventory(client, **params, format="xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(book.content))
    assert (
        "by_source_category" in workbook.sheetnames
        and "quality_by_enterprise" in workbook.sheetnames
    )
    sheet = workbook["by_source_category"]
    header = [c.value for c in sheet[1]]
    cells = {
        r[0]: dict(zip(header, r, strict=True))
        for r in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert cells["purchased_electricity"]["location_tco2e"] == pytest.approx(ELEC_LOC, abs=TOL)
    assert cells["purchased_electricity"]["market_tco2e"] == pytest.approx(3500 * RESIDUAL, abs=TOL)
    totals = {r[0]: r[1] for r in workbook["summary"].iter_rows(min_row=2, values_only=True)}
    assert totals["totals.market_tco2e"] == pytest.approx(MKT, abs=TOL)


async def test_the_html_is_printable_self_contained_and_shows_the_figures(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    page = await _inventory(
        client_for["operator"], park=park["park"], period="2026-03", format="html", lang="en"
    )
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "en"
    text = page.text
    assert f"{LOC:,.3f} tCO2e" in text and f"{MKT:,.3f} tCO2e" in text and "1.500 tCO2" in text
    exact = {float(v) for v in re.findall(r'data-v="([^"]+)"', text)}
    assert any(abs(v - E1_LOC) < TOL for v in exact)
    assert "<svg" in text and "@media print" in text
    for outside in ("<script", "<link", "src=", "href=", "@import", "url("):
        assert outside not in text


@pytest.mark.parametrize(
    ("query", "headers", "lang"),
    [
        ({}, {}, "zh-CN"),  # no choice: the park's language, zh-CN when it has none
        ({}, {"Accept-Language": "en-GB,en;q=0.9"}, "en"),
        ({"lang": "zh-CN"}, {"Accept-Language": "en"}, "zh-CN"),  # the parameter wins
    ],
)
async def test_the_html_report_is_written_in_the_language_asked_for(
    client_for: dict[str, httpx.AsyncClient],
    park: dict[str, str],
    query: dict[str, str],
    headers: dict[str, str],
    lang: str,
) -> None:
    params = {"park": park["park"], "period": "2026-03", "format": "html", **query}
    for report in ("inventory", "review"):
        page = await client_for["operator"].get(
            f"/v1/reports/{report}", params=params, headers=headers
        )
        assert page.status_code == 200, page.text
        assert page.headers["content-language"] == lang
        assert f'<html lang="{lang}">' in page.text
        tr = catalogue()
        assert f"<h1>{tr[f'report.{report}'][Lang(lang)]}:" in page.text
        # No key of the catalogue and no unfilled placeholder is left in the page.
        assert re.findall(r">\s*(?:report|common|unit)\.[\w.-]+", page.text) == []
        assert re.findall(r"\{[a-z_]+\}", page.text) == []
        if report == "inventory":
            unit = tr["unit.tCO2e"][Lang(lang)]
            assert f"{LOC:,.3f} {unit}" in page.text


async def test_an_unknown_report_language_is_a_problem_document(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    params = {"park": park["park"], "period": "2026-03", "format": "html", "lang": "fr"}
    r = await client_for["operator"].get("/v1/reports/inventory", params=params)
    assert r.status_code == 422 and r.json()["allowed"] == ["en", "zh-CN"]


async def test_the_review_gives_actions_trends_and_nonconformities(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    response = await client_for["operator"].get(
        "/v1/reports/review", params={"park": park["park"], "period": "2026-03"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["actions"]["by_state"] == {"open": 1}
    assert body["actions"]["opened_in_period"] == 1 and body["actions"]["actions_overdue"] == 1
    [ticket] = body["actions"]["open_tickets"]
    assert ticket["cause"] == "data_missing" and ticket["actions_open"] == 1
    [cause] = body["nonconformities"]
    assert cause == {
        "cause": "data_missing",
        "rule": "COMPLETENESS_LOW",
        "alerts": 1,
        "open_alerts": 1,
        "tickets": 1,
    }
    [march] = body["trends"]
    assert march["month"] == "2026-03-01"
    assert march["location_tco2e"] == pytest.approx(LOC, abs=TOL)
    assert march["year_before_tco2e"] == pytest.approx(0.4, abs=TOL)
    assert march["change_share"] == pytest.approx((LOC - 0.4) / 0.4, abs=TOL)
    assert body["projection"]["available"] is False  # three months of history, not 24
    assert body["monitoring"]["rejected_readings"] == 3
    for fmt in ("html", "csv", "xlsx"):
        got = await client_for["operator"].get(
            "/v1/reports/review", params={"park": park["park"], "period": "2026-03", "format": fmt}
        )
        assert got.status_code == 200 and len(got.content) > 500


async def test_an_enterprise_key_gets_only_its_own_enterprise(
    client_for: dict[str, httpx.AsyncClient], make_key: MakeKey, park: dict[str, str]
) -> None:
    mine = await _tenant(client_for, make_key, park["e2"])
    body = (await _inventory(mine, period="2026-03")).json()
    assert body["enterprise_id"] == park["e2"]
    assert body["totals"]["location_tco2e"] == pytest.approx(E2_LOC, abs=TOL)
    assert [b["key"] for b in body["by_enterprise"]] == [park["e2"]]
    assert body["removals"] == [] and body["targets"] == [] and body["baselines"] == []
    review = await mine.get("/v1/reports/review", params={"period": "2026-03"})
    assert review.json()["actions"]["by_state"] == {}  # E1's ticket is not E2's
    for params in ({"enterprise": park["e1"]}, {"park": "apitest"}):
        other = await mine.get("/v1/reports/inventory", params={"period": "2026-03", **params})
        assert other.status_code == 404, other.text
        assert other.headers["content-type"] == "application/problem+json"


async def test_bad_requests_get_problems(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    op = client_for["operator"]
    cases = [
        (op, {"park": park["park"], "period": "2026-13"}, 422),
        (op, {"park": park["park"]}, 422),
        (
            op,
            {"park": park["park"], "period": "2026", "from": "2026-01-01", "to": "2026-01-02"},
            422,
        ),
        (op, {"park": park["park"], "from": "2026-03-02", "to": "2026-03-01"}, 422),
        (op, {"park": park["park"], "period": "2026", "format": "pdf"}, 422),
        (op, {"park": park["park"], "from": "2026-03-xx", "to": "2026-03-01"}, 422),
        (op, {"park": f"{park['park']}-missing", "period": "2026"}, 404),
        (op, {"park": park["park"], "enterprise": "nobody", "period": "2026"}, 404),
        (client_for["anonymous"], {"park": park["park"], "period": "2026"}, 401),
        (client_for["no_scope"], {"park": park["park"], "period": "2026"}, 403),
    ]
    for client, params, status in cases:
        response = await client.get("/v1/reports/inventory", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_from_to_span_is_read_in_local_days(
    client_for: dict[str, httpx.AsyncClient], park: dict[str, str]
) -> None:
    # 1 March local only: the 00:00 local window (16:00 UTC on 28 February) and nothing else.
    body = (
        await _inventory(
            client_for["operator"],
            park=park["park"],
            enterprise=park["e1"],
            **{"from": "2026-03-01", "to": "2026-03-01"},
        )
    ).json()
    assert body["totals"]["location_tco2e"] == pytest.approx(0.5306, abs=TOL)
    assert body["totals"]["market_tco2e"] == pytest.approx(1000 * RESIDUAL, abs=TOL)


async def test_every_report_error_is_documented_in_openapi(reports_url: str) -> None:
    async with httpx.AsyncClient(base_url=reports_url) as client:
        spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/reports/inventory", "/v1/reports/review"):
        responses = spec["paths"][path]["get"]["responses"]
        assert {"200", "401", "403", "404", "422", "503"} <= set(responses)
        assert "application/zip" in responses["200"]["content"]
