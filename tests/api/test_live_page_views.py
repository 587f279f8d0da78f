"""The live page's comparison (同比 / 环比), energy flow and heatmap views in a real headless
Chromium against the real API server and database, at desktop width and at a phone's (390 px):
each view shows the API's own figures, no text is missing, the page never scrolls sideways on
the phone, and screenshots of both widths are kept in test-artifacts/."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from psycopg import AsyncConnection

from accounting.i18n import Lang, catalogue
from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey
from tests.api.test_live_page import ARGS, CHROMIUM, WAIT_MS, Browser, until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ZONE = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
    ),
]
playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
WINDOW = (
    "INSERT INTO emission_window (meter_id, width_s, window_start, window_end, enterprise_id,"
    " source_category, iso_category, activity, activity_unit, gases, tco2e, readings_present,"
    " readings_expected, completeness) VALUES (%s, 3600, %s, %s, %s, %s, %s, %s, %s, %s::jsonb,"
    " %s, 4, 4, 1)"
)


@dataclass(frozen=True)
class Park:
    park_id: str
    today_start: datetime
    until: datetime  # the end of the closed hours the page compares


def _earlier(moment: datetime, years: int = 0, months: int = 0) -> datetime | None:
    local = moment.astimezone(ZONE)
    month = local.month - months
    year = local.year - years + (month - 1) // 12
    try:
        return local.replace(year=year, month=(month - 1) % 12 + 1).astimezone(UTC)
    except ValueError:  # 31 March a month earlier: no such day
        return None


@pytest.fixture(scope="module")
async def park(api_server: ApiServer) -> Park:
    """A park of two enterprises (electricity and gas, and electricity) with every hour of the
    last seven local days, and today's hours a year and a month earlier at other levels."""
    u = uuid.uuid4().hex[:8]
    park_id, e1, e2 = f"lv-{u}", f"lv-e1-{u}", f"lv-e2-{u}"
    m1, m2, m3 = f"lv-m1-{u}", f"lv-m2-{u}", f"lv-m3-{u}"
    now = datetime.now(UTC)
    start = now.astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    today = start.astimezone(UTC)
    closed = max(now.replace(minute=0, second=0, microsecond=0), today + HOUR)
    kinds = {
        m1: (e1, "electricity", "kWh", "purchased_electricity", "2"),
        m2: (e1, "natural_gas", "Nm3", "stationary_combustion", "1"),
        m3: (e2, "electricity", "kWh", "purchased_electricity", "2"),
    }
    rows: list[tuple[Any, ...]] = []

    def window(meter: str, at: datetime, tco2e: float, activity: float) -> None:
        ent, _, unit, category, iso = kinds[meter]
        gases = orjson.dumps({"CO2": tco2e}).decode()
        rows.append((meter, at, at + HOUR, ent, category, iso, activity, unit, gases, tco2e))

    at, k = today - timedelta(days=6), 0
    while at < closed:
        k += 1
        window(m1, at, 0.1 + (k % 24) / 100, 400.0)
        window(m2, at, 0.5 + (k % 7) / 10, 300.0)
        window(m3, at, 0.2, 150.0)
        at += HOUR
    for years, months, level in ((1, 0, 0.3), (0, 1, 0.6)):
        at = today
        while at < closed:
            earlier = _earlier(at, years, months)
            if earlier is not None:
                window(m1, earlier, level, 300.0)
                window(m3, earlier, level / 2, 100.0)
            at += HOUR
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'Views park', 'Asia/Shanghai')",
            (park_id,),
        )
        for ent, name in ((e1, "Steelworks"), (e2, "Glassworks")):
            await c.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, park_id, name),
            )
        for meter, (ent, carrier, unit, category, _) in kinds.items():
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, installed_at) VALUES (%s, %s, %s, %s, 'cumulative', %s,"
                " '2020-01-01T00:00:00Z')",
                (meter, ent, carrier, unit, category),
            )
        async with c.cursor() as cur:
            await cur.executemany(WINDOW, rows)
    return Park(park_id, today, closed)


@pytest.fixture(scope="module")
async def key(make_key: MakeKey) -> str:
    return await make_key(Role.OPERATOR)


@pytest.fixture(scope="module")
async def api(api_server: ApiServer, key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_server.url, headers=headers, timeout=30) as c:
        yield c


async def _open(pw: Any, profile: Path, url: str, width: int, height: int) -> tuple[Any, Browser]:
    context = await pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=ARGS,
        viewport={"width": width, "height": height},
        locale="en-US",  # the figures below are read in English; zh-CN is switched to last
    )
    page = context.pages[0] if context.pages else await context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None
    )
    await page.goto(url)
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    return context, Browser(page, problems, 0.0)


@pytest.fixture(scope="module", params=[(1280, 1100), (390, 844)], ids=["desktop", "phone"])
async def browser(
    request: pytest.FixtureRequest,
    api_server: ApiServer,
    park: Park,
    key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Browser]:
    width, height = request.param
    async with playwright.async_playwright() as pw:
        context, b = await _open(
            pw,
            tmp_path_factory.mktemp("chromium-views"),
            f"{api_server.url}/#key={key}&park={park.park_id}",
            width,
            height,
        )
        yield b
        await context.close()


async def test_the_comparison_shows_the_apis_change_year_on_year_and_month_on_month(
    browser: Browser, api: httpx.AsyncClient, park: Park
) -> None:
    await until(browser, "document.querySelector('#compare-mom').dataset.state")
    for kind in ("yoy", "mom"):
        r = await api.get(
            "/v1/emissions",
            params={
                "from": park.today_start.isoformat(),
                "to": park.until.isoformat(),
                "bucket": "1d",
                "group_by": "park",
                "park_id": park.park_id,
                "compare": kind,
            },
        )
        previous = r.json()["items"][0]["previous"]
        shown = await browser.page.evaluate(
            "(k) => { const n = document.querySelector(`#compare-${k}`);"
            " const out = n.querySelector('output');"
            " return {state: n.dataset.state, value: out.dataset.value ?? null,"
            " text: n.innerText}; }",
            kind,
        )
        if previous is None:  # today has no counterpart a month earlier (the 31st)
            assert shown["state"] == "missing", shown
            continue
        assert shown["value"] == previous["change"], shown
        # the earlier figure is lower: emissions went up, by the API's own percentage
        assert shown["state"] == "up", shown
        pct = previous["change_pct"].rstrip("0").rstrip(".")
        assert f"up {pct} %" in shown["text"], shown


async def test_the_flow_has_a_node_and_a_link_for_each_of_the_apis(
    browser: Browser, api: httpx.AsyncClient, park: Park
) -> None:
    await until(browser, "document.querySelector('#flow-chart svg')")
    r = await api.get(
        "/v1/energy-flows",
        params={
            "from": park.today_start.isoformat(),
            "to": (park.today_start + timedelta(days=1)).isoformat(),
            "park_id": park.park_id,
        },
    )
    body = r.json()
    drawn = await browser.page.evaluate(
        "() => [...document.querySelectorAll('#flow-chart [data-node]')]"
        ".map((n) => [n.dataset.node, n.dataset.value])"
    )
    assert sorted(map(tuple, drawn)) == sorted((n["id"], n["tco2e"]) for n in body["nodes"])
    links = await browser.page.evaluate(
        "() => document.querySelectorAll('#flow-chart path[data-source]').length"
    )
    # park -> 2 enterprises; e1 -> 2 carriers, e2 -> 1; each carrier -> its category
    assert links == len(body["links"]) == 7
    label = await browser.page.locator("#flow-chart").get_attribute("aria-label")
    assert "2 enterprises" in str(label)


async def test_the_heatmap_has_a_cell_for_each_hour_of_the_last_seven_days(
    browser: Browser, api: httpx.AsyncClient, park: Park
) -> None:
    await until(browser, "document.querySelector('#heatmap-chart svg')")
    r = await api.get(
        "/v1/heatmap",
        params={
            "from": (park.today_start - timedelta(days=6)).isoformat(),
            "to": (park.today_start + timedelta(days=1)).isoformat(),
            "park_id": park.park_id,
        },
    )
    cells = r.json()["cells"]
    assert len(cells) == 6 * 24 + (park.until - park.today_start) // HOUR
    drawn = await browser.page.evaluate(
        "() => [...document.querySelectorAll('#heatmap-chart rect[data-value]')]"
        ".map((n) => [n.dataset.day, Number(n.dataset.hour), n.dataset.value])"
    )
    assert sorted(map(tuple, drawn)) == sorted((c["day"], c["hour"], c["value"]) for c in cells)


async def test_every_text_is_there_in_both_languages_and_a_phone_never_scrolls_sideways(
    browser: Browser,
) -> None:
    views = (
        "#compare [data-i18n], .card [data-i18n^='page.flow'], .card [data-i18n^='page.heatmap']"
    )
    untranslated = await browser.page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)]"
        ".filter((n) => !n.textContent.trim() || n.textContent === n.dataset.i18n)"
        ".map((n) => n.dataset.i18n)",
        views,
    )
    assert untranslated == []
    width = await browser.page.evaluate("window.innerWidth")
    scroll = await browser.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide in a {width} px window"
    if width < 600:  # one column of cards on a phone
        lefts = await browser.page.evaluate(
            "() => [...new Set([...document.querySelectorAll('main > section:not([hidden])')]"
            ".map((s) => Math.round(s.getBoundingClientRect().left)))]"
        )
        assert len(lefts) == 1, lefts
    ARTIFACTS.mkdir(exist_ok=True)
    kind = "phone" if width < 600 else "desktop"
    shot = ARTIFACTS / f"live-page-views-{kind}.png"
    await browser.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # The same views in Chinese, from the same catalogue: headings, the flow's levels and words.
    await browser.page.select_option("#lang-select", "zh-CN")
    tr = catalogue()
    await until(
        browser,
        "document.querySelector('#h-compare').textContent === "
        + repr(tr["page.compare.title"][Lang.ZH_CN]),
    )
    await until(
        browser,
        "document.querySelector('#flow-chart').getAttribute('aria-label').includes('家企业')",
    )
    levels = await browser.page.evaluate(
        "() => [...document.querySelectorAll('#flow-chart text.level')].map((n) => n.textContent)"
    )
    assert levels == [
        tr[f"page.flow.level.{k}"][Lang.ZH_CN]
        for k in ("park", "enterprise", "carrier", "source_category")
    ]
    shot = ARTIFACTS / f"live-page-views-{kind}-zh-CN.png"
    await browser.page.screenshot(path=str(shot), full_page=True)
    assert browser.problems == []
    await browser.page.select_option("#lang-select", "en")
