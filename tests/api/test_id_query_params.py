"""An id given as a query parameter (``meter_id``, ``enterprise_id``, ``site_id``, ``park_id``,
``subject_id``) is checked against the id alphabet ``[A-Za-z0-9_.:/-]{1,64}`` on every route
that filters by one: anything else, a trailing newline included, is a 422 problem document
naming the parameter, through the real API."""

from __future__ import annotations

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from api.params import IdText

RANGE = {"from": "2026-01-01T00:00:00+08:00", "to": "2026-01-02T00:00:00+08:00"}
PERIOD = {"period": "2026-01"}

# (path, parameter, other parameters the route needs)
ROUTES = [
    ("/v1/emissions", "meter_id", RANGE),
    ("/v1/emissions", "site_id", RANGE),
    ("/v1/emissions", "park_id", RANGE),
    ("/v1/quality", "enterprise_id", RANGE),
    ("/v1/intensity", "enterprise_id", RANGE),
    ("/v1/progress", "subject_id", {}),
    ("/v1/meters", "enterprise_id", {}),
    ("/v1/meters", "site_id", {}),
    ("/v1/enterprises", "park_id", {}),
    ("/v1/sites", "enterprise_id", {}),
    ("/v1/targets", "subject_id", {}),
    ("/v1/baselines", "subject_id", {}),
    ("/v1/gateways", "park_id", {}),
    ("/v1/tickets", "enterprise_id", {}),
    ("/v1/tickets", "subject_id", {}),
    ("/v1/alerts", "enterprise_id", {}),
    ("/v1/alerts", "subject_id", {}),
    ("/v1/activity-records", "enterprise_id", {}),
]
BAD = ["E-0001\n", "E-0001\r", "E 0001", "E-0001;", "x" * 65, "", "电表-1"]


@pytest.mark.parametrize("value", ["E-0001\n", "E-0001\r\n", "\nE-0001", "E 1", "x" * 65, ""])
def test_the_id_type_refuses_what_is_outside_the_alphabet(value: str) -> None:
    # pydantic's pattern ends in "$": its regex engine must treat it as the end of the text
    # (Python's re would let "E-0001\n" through).
    with pytest.raises(ValidationError):
        TypeAdapter(IdText).validate_python(value)


@pytest.mark.parametrize("value", ["E-0001", "gw/a:b.c_d-e", "x" * 64])
def test_the_id_type_keeps_every_id_of_the_alphabet(value: str) -> None:
    assert TypeAdapter(IdText).validate_python(value) == value


@pytest.mark.integration
@pytest.mark.parametrize(("path", "param", "extra"), ROUTES)
async def test_an_id_outside_the_alphabet_is_a_422_naming_the_parameter(
    admin: httpx.AsyncClient, path: str, param: str, extra: dict[str, str]
) -> None:
    for value in BAD:
        r = await admin.get(path, params={**extra, param: value})

        assert r.status_code == 422, (path, param, value, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 422
        assert problem["detail"].startswith(f"query.{param}"), problem
        assert problem["errors"][0]["loc"][:2] == ["query", param]


@pytest.mark.integration
@pytest.mark.parametrize(("path", "param", "extra"), ROUTES)
async def test_an_id_of_the_alphabet_is_answered(
    admin: httpx.AsyncClient, path: str, param: str, extra: dict[str, str]
) -> None:
    r = await admin.get(path, params={**extra, param: "apitest-no-such:id/1.x_y"})

    assert r.status_code == 200, (path, param, r.text)


@pytest.mark.integration
@pytest.mark.parametrize("param", ["park", "enterprise"])
async def test_a_report_for_an_id_outside_the_alphabet_is_a_422(
    admin: httpx.AsyncClient, param: str
) -> None:
    r = await admin.get("/v1/reports/inventory", params={**PERIOD, param: "apitest\n"})

    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][:2] == ["query", param]
