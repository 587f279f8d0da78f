"""Training records over HTTP against the real database (clause 7.2): requirements, role
holders, events with attendance and evaluation, and the competence gap view with tenancy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B

pytestmark = pytest.mark.integration

PATH = "/v1/training-records"


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(PATH + path, json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def mine(gaps: list[dict[str, Any]], tag: str) -> list[tuple[str | None, str, str, str]]:
    return sorted(
        (g["enterprise_id"], g["person"], g["competence"], g["status"])
        for g in gaps
        if tag in g["role"]
    )


async def test_the_gap_view_lists_people_whose_role_needs_a_competence_they_have_not_passed(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    role = f"data clerk {unique}"
    accounting, metering = "GHG accounting", "GB 17167 metering"
    await post(
        admin,
        "/requirements",
        {"park_id": "apitest", "role": role, "competence": accounting, "acquired_by": "training"},
    )
    await post(
        tenant_a, "/requirements", {"role": role, "competence": metering, "acquired_by": "training"}
    )
    r = await tenant_a.post(
        PATH + "/requirements",
        json={"role": role, "competence": metering, "acquired_by": "training"},
    )
    assert r.status_code == 409, r.text
    for ent, person in (
        (ENTERPRISE_A, "Zhao Lei"),
        (ENTERPRISE_A, "Qian Yu"),
        (ENTERPRISE_B, "Sun Li"),
    ):
        await post(admin, "/role-holders", {"enterprise_id": ent, "person": person, "role": role})

    event = await post(
        admin,
        "/events",
        {
            "park_id": "apitest",
            "held_on": "2026-03-02",
            "topic": "Carbon accounting for data clerks",
            "trainer": "Dr. Hu",
            "competences": [accounting],
        },
    )
    passed = {"role": role, "result": "passed", "method": "written_test", "evaluated_by": "Dr. Hu"}
    await post(
        admin,
        f"/events/{event['event_id']}/attendance",
        passed | {"person": "Zhao Lei", "enterprise_id": ENTERPRISE_A},
    )
    await post(
        admin,
        f"/events/{event['event_id']}/attendance",
        passed | {"person": "Sun Li", "enterprise_id": ENTERPRISE_B, "result": "failed"},
    )
    r = await admin.post(
        PATH + f"/events/{event['event_id']}/attendance",
        json=passed | {"person": "Zhao Lei", "enterprise_id": ENTERPRISE_A},
    )
    assert r.status_code == 409, r.text
    r = await admin.post(
        PATH + f"/events/{event['event_id']}/attendance",
        json=passed | {"person": "X", "method": None},
    )
    assert r.status_code == 422, r.text

    park = mine((await admin.get(PATH + "/gaps")).json(), unique)
    qian_accounting = (ENTERPRISE_A, "Qian Yu", accounting, "no_training")
    qian_metering = (ENTERPRISE_A, "Qian Yu", metering, "no_training")
    zhao_metering = (ENTERPRISE_A, "Zhao Lei", metering, "no_training")
    sun_accounting = (ENTERPRISE_B, "Sun Li", accounting, "failed")
    assert park == sorted([qian_accounting, qian_metering, zhao_metering, sun_accounting])
    # Enterprise A's key sees its own people's gaps only.
    assert mine((await tenant_a.get(PATH + "/gaps")).json(), unique) == sorted(
        [qian_accounting, qian_metering, zhao_metering]
    )

    # A's own event, attended and passed by Qian Yu, closes that gap.
    own = await post(
        tenant_a,
        "/events",
        {
            "held_on": "2026-03-09",
            "topic": "Metering",
            "trainer": "Ms. Gao",
            "competences": [metering],
        },
    )
    await post(
        tenant_a,
        f"/events/{own['event_id']}/attendance",
        passed | {"person": "Qian Yu", "evaluated_by": "Ms. Gao", "method": "practical_test"},
    )
    after = mine((await tenant_a.get(PATH + "/gaps")).json(), unique)
    assert after == sorted([qian_accounting, zhao_metering])
    detail = (await tenant_a.get(PATH + f"/events/{own['event_id']}")).json()
    assert [(a["person"], a["enterprise_id"], a["result"]) for a in detail["attendance"]] == [
        ("Qian Yu", ENTERPRISE_A, "passed")
    ]
    # The park's event is park-level: not visible to A's key.
    assert (await tenant_a.get(PATH + f"/events/{event['event_id']}")).status_code == 404
