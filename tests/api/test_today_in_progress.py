""" "Today" includes the hour in progress: its hour window is written only when the hour closes,
so until then its 1-minute windows stand in (never both: a minute whose hour has its hour window
is not counted again). The page's "Today against target" and "Enterprises today" read these
figures, /v1/emissions over the park's local day and /v1/progress."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ApiServer

pytestmark = pytest.mark.integration

_WINDOW = (
    "INSERT INTO emission_window (meter_id, width_s, window_start, window_end, enterprise_id,"
    " source_category, iso_category, activity, activity_unit, gases, tco2e, readings_present,"
    " readings_expected, completeness) VALUES (%s, %s, %s, %s, %s, 'purchased_electricity', '2',"
    " %s, 'kWh', %s::jsonb, %s, 1, 1, 1)"
)


async def _window(
    c: AsyncConnection[Any], meter: str, ent: str, start: datetime, width: int, t: str
) -> None:
    gases = orjson.dumps({"CO2": float(t)}).decode()
    end = start + timedelta(seconds=width)
    await c.execute(_WINDOW, (meter, width, start, end, ent, float(t) * 1000, gases, float(t)))


async def test_today_and_its_progress_include_the_minutes_of_the_hour_in_progress(
    api_server: ApiServer, admin: httpx.AsyncClient
) -> None:
    u = uuid.uuid4().hex[:8]
    park, ent, meter = f"tp-{u}", f"tp-e-{u}", f"tp-m-{u}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        # The figures are of the hour in progress: never start within 30 s of its end, or the
        # query would read the next hour (a bounded wait for the server's clock to pass it).
        left = await (
            await c.execute(
                "SELECT extract(epoch FROM date_trunc('hour', now()) + interval '1 hour' - now())"
            )
        ).fetchone()
        if left is not None and float(left[0]) < 30:
            await asyncio.sleep(float(left[0]) + 1)
        day_start, day_end, hour, local = await (
            await c.execute(
                "SELECT date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE"
                " 'Asia/Shanghai', (date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')"
                " + interval '1 day') AT TIME ZONE 'Asia/Shanghai', date_trunc('hour', now()),"
                " (now() AT TIME ZONE 'Asia/Shanghai')::date"
            )
        ).fetchone()  # type: ignore[misc]
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'today', 'Asia/Shanghai')",
            (park,),
        )
        await c.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'e')",
            (ent, park),
        )
        await c.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category, installed_at) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity', '2024-01-01T00:00:00Z')",
            (meter, ent),
        )
        expected = Decimal(0)
        previous = hour - timedelta(hours=1)
        if previous >= day_start:  # a closed hour of today, with one of its minutes
            await _window(c, meter, ent, previous, 3600, "0.5")
            await _window(c, meter, ent, previous + timedelta(minutes=59), 60, "0.25")
            expected += Decimal("0.5")  # the minute is inside its hour window already
        for i, t in enumerate(("0.125", "0.0625", "0.03125")):  # the hour in progress
            await _window(c, meter, ent, hour + timedelta(minutes=i), 60, t)
            expected += Decimal(t)
    day = {"from": day_start.isoformat(), "to": day_end.isoformat()}
    r = await admin.get(
        "/v1/emissions", params={**day, "bucket": "1d", "group_by": "park", "park_id": park}
    )
    assert r.status_code == 200, r.text
    [today] = r.json()["items"]
    assert Decimal(today["tco2e"]) == expected
    by_ent = await admin.get(
        "/v1/emissions", params={**day, "bucket": "1d", "group_by": "enterprise", "park_id": park}
    )
    assert [Decimal(i["tco2e"]) for i in by_ent.json()["items"]] == [expected]
    target = await admin.post(
        "/v1/targets",
        json={
            "subject_kind": "park",
            "subject_id": park,
            "period_kind": "day",
            "period_start": local.isoformat(),
            "absolute_tco2e": 10.0,
        },
    )
    assert target.status_code == 201, target.text
    progress = await admin.get("/v1/progress", params={"subject_kind": "park", "subject_id": park})
    [item] = progress.json()["items"]
    assert Decimal(item["absolute"]["actual"]["value"]) == expected
