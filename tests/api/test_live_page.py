"""The live page at ``/`` in a real headless Chromium (Debian's, driven by Playwright), against the
real API server, database and broker: a park of its own with a day of windows, a target, rejects
and a ticket. The page loads cleanly, shows the API's own numbers, and follows the live feed
(a new alert, a closed 1-minute window) without a reload. Prints the page load time and the SSE
update latency, both measured in the browser, and keeps a screenshot in tests/api/artifacts/."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection

from accounting.i18n import Lang, catalogue, translate
from accounting.windows import WindowKey, WindowResult, WindowResults
from api.keys import Role
from contracts.alerts import alert_key, encode_alert
from contracts.topics import Topic, topic_name
from contracts.windows import encode_windows
from tests.api.conftest import ApiServer, MakeKey
from tests.api.test_tickets import make_alert, produce, wait_ticket
from tests.conftest import ROOT, RunningWorker

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
# Without the background-networking flags Chromium dials Google's hosts, which this closed
# network refuses; the page itself only talks to the API on loopback.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
# The worker raises an unknown meter's alert at its next deviation evaluation (tests/api/
# test_demo_fault.py allows 45 s from the command to the stored alert).
DEMO_FAULT_WAIT_MS = 45_000
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
    " readings_expected, completeness) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb,"
    " %s, %s, %s, %s) ON CONFLICT (meter_id, width_s, window_start) DO UPDATE SET"
    " tco2e = EXCLUDED.tco2e, activity = EXCLUDED.activity, gases = EXCLUDED.gases"
)

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Park:
    park_id: str
    e1: str  # electricity m1, natural gas m2, production output p1
    e2: str  # electricity m3, calibration overdue
    m1: str
    m2: str
    p1: str
    m3: str
    day_tco2e: Decimal  # hand sum of today's hour windows
    e1_tco2e: Decimal
    e1_product_t: Decimal
    # The newest seeded 1-minute window: minutes begun after it (the module's tests take a
    # while) hold none.
    seeded_minute: datetime = NEVER


def shown(value: str, unit: str, lang: Lang = Lang.EN) -> str:
    """How the page writes a figure: the API's decimal string, trailing zeros trimmed,
    thousands grouped, the unit as the language writes it."""
    text = value.rstrip("0").rstrip(".") if "." in value else value
    whole, dot, frac = text.partition(".")
    unit_text = catalogue()[f"unit.{unit}"][lang] if f"unit.{unit}" in catalogue() else unit
    return f"{int(whole):,}{dot}{frac} {unit_text}"


def en(key: str, **params: object) -> str:
    return translate(key, Lang.EN, **params)


@pytest.fixture(scope="module")
def page_server(api_server: ApiServer) -> ApiServer:
    return api_server


async def _insert_window(
    c: AsyncConnection[Any],
    meter: str,
    ent: str,
    start: datetime,
    width: int,
    kind: tuple[str, str | None, str],
    activity: float,
    tco2e: float,
    present: int = 4,
) -> None:
    category, iso, unit = kind
    gases = orjson.dumps({"CO2": tco2e} if tco2e else {}).decode()
    await c.execute(
        WINDOW,
        (
            meter,
            width,
            start,
            start + timedelta(seconds=width),
            ent,
            category,
            iso,
            activity,
            unit,
            gases,
            tco2e,
            present,
            4,
            present / 4,
        ),
    )


ELEC = ("purchased_electricity", "2", "kWh")
GAS = ("stationary_combustion", "1", "Nm3")
OUTPUT = ("activity_only", None, "t")


@pytest.fixture(scope="module")
async def park(page_server: ApiServer, admin: httpx.AsyncClient) -> Park:
    u = uuid.uuid4().hex[:8]
    p = Park(
        f"lp-{u}",
        f"lp-e1-{u}",
        f"lp-e2-{u}",
        f"lp-m1-{u}",
        f"lp-m2-{u}",
        f"lp-p1-{u}",
        f"lp-m3-{u}",
        Decimal(0),
        Decimal(0),
        Decimal(0),
    )
    day, e1, product = Decimal(0), Decimal(0), Decimal(0)
    async with await AsyncConnection.connect(page_server.database_url, autocommit=True) as c:
        start, now, local = await (
            await c.execute(
                "SELECT date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE"
                " 'Asia/Shanghai', now(), (now() AT TIME ZONE 'Asia/Shanghai')::date"
            )
        ).fetchone()  # type: ignore[misc]
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'Live page park',"
            " 'Asia/Shanghai')",
            (p.park_id,),
        )
        for ent, name in ((p.e1, "Steelworks"), (p.e2, "Glassworks")):
            await c.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, p.park_id, name),
            )
        meters = [
            (p.m1, p.e1, "electricity", "kWh", ELEC[0], local + timedelta(days=200)),
            (p.m2, p.e1, "natural_gas", "Nm3", GAS[0], local + timedelta(days=10)),
            (p.p1, p.e1, "production_output", "t", OUTPUT[0], None),
            (p.m3, p.e2, "electricity", "kWh", ELEC[0], local - timedelta(days=3)),
        ]
        for mid, ent, carrier, unit, cat, due in meters:
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, calibration_due, installed_at) VALUES (%s, %s, %s, %s,"
                " 'cumulative', %s, %s, '2024-01-01T00:00:00Z')",
                (mid, ent, carrier, unit, cat, due),
            )
        hour, k = start, 0
        while hour <= now:  # every hour of the local day so far, the current one too
            k += 1
            elec, gas, other = (
                Decimal(k % 5 + 1) / 8,
                Decimal("0.5") + Decimal(k) / 20,
                Decimal("0.3"),
            )
            await _insert_window(c, p.m1, p.e1, hour, 3600, ELEC, 100.0 * k, float(elec), 3 + k % 2)
            await _insert_window(c, p.m2, p.e1, hour, 3600, GAS, 10.0 * k, float(gas))
            await _insert_window(c, p.p1, p.e1, hour, 3600, OUTPUT, 10.0, 0.0)
            await _insert_window(c, p.m3, p.e2, hour, 3600, ELEC, 50.0, float(other))
            day, e1, product = day + elec + gas + other, e1 + elec + gas, product + 10
            hour += timedelta(hours=1)
        minute = now.replace(second=0, microsecond=0)
        for i in range(90):  # the last hour and a half of 1-minute windows, a wave to look at
            at = minute - timedelta(minutes=i)
            await _insert_window(c, p.m1, p.e1, at, 60, ELEC, 2.0, 0.002 + 0.001 * (i % 7), 1)
            await _insert_window(c, p.m3, p.e2, at, 60, ELEC, 1.0, 0.0015, 1)
        for n, reason in enumerate(["SPIKE", "SPIKE", "OUT_OF_RANGE"]):
            await c.execute(
                "INSERT INTO rejected_reading (meter_id, reason, detail, dedupe_key, rejected_at)"
                " VALUES (%s, %s, 'live page test', %s, now())",
                (p.m1, reason, f"lp-{u}-{n}"),
            )
    r = await admin.post(
        "/v1/targets",
        json={
            "subject_kind": "park",
            "subject_id": p.park_id,
            "period_kind": "day",
            "period_start": local.isoformat(),
            "absolute_tco2e": 40.0,
        },
    )
    assert r.status_code == 201, r.text
    return Park(
        **{
            **p.__dict__,
            "day_tco2e": day,
            "e1_tco2e": e1,
            "e1_product_t": product,
            "seeded_minute": minute,
        }
    )


@pytest.fixture(scope="module")
async def key(make_key: MakeKey) -> str:
    return await make_key(Role.OPERATOR)


@pytest.fixture(scope="module")
async def api(page_server: ApiServer, key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=page_server.url, headers=headers, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
async def ticket(page_server: ApiServer, api: httpx.AsyncClient, park: Park) -> dict[str, Any]:
    """A ticket of e1 opened by a real alert through the consumer, then contained by a person."""
    await produce(page_server, make_alert(park.m1, enterprise=park.e1, measured=1.8))
    opened = await wait_ticket(api, park.m1)
    r = await api.post(
        f"/v1/tickets/{opened['ticket_id']}/transitions",
        json={"to": "contained", "containment": "furnace 2 load shed"},
    )
    assert r.status_code == 200, r.text
    return (await api.get(f"/v1/tickets/{opened['ticket_id']}")).json()  # type: ignore[no-any-return]


@dataclass
class Browser:
    page: Any
    problems: list[str]
    load_ms: float


@pytest.fixture(scope="module")
async def browser(
    page_server: ApiServer,
    park: Park,
    ticket: dict[str, Any],
    key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Browser]:
    """The page opened with the key in the fragment; console errors and failed requests kept."""
    async with playwright.async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 1100},
            locale="en-US",  # Accept-Language: en-US; the language tests below take zh-CN
        )
        page = context.pages[0] if context.pages else await context.new_page()
        problems: list[str] = []

        def console(m: Any) -> None:
            if m.type == "error":
                problems.append(f"console: {m.text}")

        def response(r: Any) -> None:
            if r.status >= 400:
                problems.append(f"{r.status}: {r.url}")

        page.on("console", console)
        page.on("response", response)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        await page.goto(f"{page_server.url}/#key={key}&park={park.park_id}")
        await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
        load_ms = await page.evaluate(
            "performance.getEntriesByName('parkcarbon:data-rendered')[0].startTime"
        )
        yield Browser(page, problems, load_ms)
        await context.close()


async def until(b: Browser, expression: str) -> Any:
    """Poll ``expression`` in the page until truthy (wait_for_function evaluates strings with
    eval, which the page's CSP rightly refuses)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if found := await b.page.evaluate(expression):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {WAIT_MS} ms: {expression}")


async def text(b: Browser, selector: str) -> str:
    return str(await b.page.locator(selector).inner_text()).strip()


async def snapshot(b: Browser, selector: str) -> dict[str, str]:
    """An element's text and data attributes read at one instant: the page re-renders whenever
    a window of any enterprise closes, so separate reads could straddle two renders."""
    got = await b.page.evaluate(
        "(s) => { const e = document.querySelector(s);"
        " return {...e.dataset, text: e.innerText.trim()}; }",
        selector,
    )
    return {str(k): str(v) for k, v in dict(got).items()}


async def value(b: Browser, selector: str, attr: str = "value") -> str | None:
    got = await b.page.locator(selector).get_attribute(f"data-{attr}")
    return None if got is None else str(got)


async def test_the_page_is_served_without_a_key_and_keeps_the_key_out_of_the_address(
    page_server: ApiServer, browser: Browser, key: str
) -> None:
    async with httpx.AsyncClient(base_url=page_server.url) as anonymous:
        r = await anonymous.get("/")
        assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
        assert (await anonymous.get("/page/context")).status_code == 401  # the data needs a key
    assert key not in browser.page.url
    assert await browser.page.evaluate("sessionStorage.getItem('parkcarbon.key')") == key
    assert await text(browser, "#feed-status") == "Live"
    assert browser.problems == []


async def test_an_enterprise_key_sees_only_its_own_park_and_enterprise_in_the_context(
    page_server: ApiServer, make_key: MakeKey, park: Park
) -> None:
    token = await make_key(Role.ENTERPRISE, enterprise_id=park.e2)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=page_server.url, headers=headers) as tenant:
        r = await tenant.get("/page/context")
        assert (await tenant.get("/static/live/..%2Fviews.py")).status_code == 404
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["enterprise_id"] == park.e2
    [mine] = body["parks"]
    assert (mine["park_id"], mine["timezone"]) == (park.park_id, "Asia/Shanghai")
    assert mine["enterprises"] == [{"enterprise_id": park.e2, "name": "Glassworks"}]
    start = datetime.fromisoformat(mine["today_start"])
    assert (start.astimezone(ZoneInfo("Asia/Shanghai")).time(), start.tzinfo is not None) == (
        dt_time(0, 0),
        True,
    )
    assert datetime.fromisoformat(mine["today_end"]) - start == timedelta(days=1)


async def test_the_live_hour_and_today_equal_the_apis_figures(
    browser: Browser, api: httpx.AsyncClient, park: Park
) -> None:
    shot = await snapshot(browser, "#hour-total")
    r = await api.get(
        "/v1/emissions",
        params={
            "from": shot["from"],
            "to": shot["to"],
            "bucket": "1m",
            "group_by": "park",
            "park_id": park.park_id,
        },
    )
    items = r.json()["items"]
    # Seeded minutes cover the whole hour shown but those begun since they were seeded.
    last = datetime.fromisoformat(shot["to"]) - timedelta(minutes=1)
    since = max(0, int((last - park.seeded_minute) / timedelta(minutes=1)))
    assert len(items) == 60 - since
    hour = f"{sum(Decimal(i['tco2e']) for i in items):.6f}"
    assert shot["value"] == hour
    assert shot["text"] == shown(hour, "tCO2e")
    day = {
        "from": await value(browser, "#today-total", "from"),
        "to": await value(browser, "#today-total", "to"),
    }
    [today] = (
        await api.get(
            "/v1/emissions",
            params={**day, "bucket": "1d", "group_by": "park", "park_id": park.park_id},
        )
    ).json()["items"]
    assert Decimal(today["tco2e"]) == park.day_tco2e  # the API's figure is the hand sum
    assert await text(browser, "#today-total") == shown(today["tco2e"], "tCO2e")
    [target] = (
        await api.get("/v1/progress", params={"subject_kind": "park", "subject_id": park.park_id})
    ).json()["items"]
    row = f"#progress tr[data-target='{target['target_id']}'][data-kind=absolute]"
    assert (
        await value(browser, f"{row} .limit") == target["absolute"]["limit"]["value"] == "40.000000"
    )
    assert await value(browser, f"{row} .actual") == target["absolute"]["actual"]["value"]
    assert await text(browser, f"{row} .limit") == "40 tCO2e"
    by_ent = (
        await api.get(
            "/v1/emissions",
            params={**day, "bucket": "1d", "group_by": "enterprise", "park_id": park.park_id},
        )
    ).json()["items"]
    for item in by_ent:
        cell = f"#enterprises tr[data-enterprise='{item['group']['enterprise']}'] .tco2e"
        assert await value(browser, cell) == item["tco2e"]
        assert await text(browser, cell) == shown(item["tco2e"], "tCO2e")
    assert {i["group"]["enterprise"]: Decimal(i["tco2e"]) for i in by_ent}[park.e1] == park.e1_tco2e
    intensity = await api.get("/v1/intensity", params={**day, "enterprise_id": [park.e1, park.e2]})
    per = {i["enterprise_id"]: i for i in intensity.json()["items"]}
    [e1_output] = [o for o in per[park.e1]["outputs"] if o["output"]["unit"] == "t product"]
    assert Decimal(e1_output["intensity"]["value"]) == round(park.e1_tco2e / park.e1_product_t, 6)
    assert await text(browser, f"#enterprises tr[data-enterprise='{park.e1}'] .intensity") == shown(
        e1_output["intensity"]["value"], "tCO2e/t product"
    )
    assert await text(browser, f"#enterprises tr[data-enterprise='{park.e2}'] .intensity") == (
        "no output metered"
    )


async def test_the_quality_strip_equals_the_apis_completeness_rejects_and_calibration(
    browser: Browser, api: httpx.AsyncClient, park: Park
) -> None:
    day = {
        "from": await value(browser, "#today-total", "from"),
        "to": await value(browser, "#today-total", "to"),
    }
    q = (await api.get("/v1/quality", params={**day, "enterprise_id": [park.e1, park.e2]})).json()
    ents = {e["enterprise_id"]: e for e in q["enterprises"]}
    assert ents[park.e1]["rejected"] == {"OUT_OF_RANGE": 1, "SPIKE": 2}
    assert (ents[park.e2]["calibration_overdue"], ents[park.e1]["calibration_due_soon"]) == (1, 1)
    for ent, e in ents.items():
        assert (
            await value(browser, f"#quality tr[data-enterprise='{ent}'] .completeness")
            == (e["completeness"])
        )
    assert await text(browser, "[data-q=rejected]") == (
        f"{en('reason.OUT_OF_RANGE')} 1 · {en('reason.SPIKE')} 2"
    )
    assert await text(browser, "[data-q=overdue]") == "1 of 4 meters"
    assert await text(browser, "[data-q=due-soon]") == "1 meters"


async def test_open_alerts_and_tickets_show_their_state_and_a_ticket_its_history(
    browser: Browser, api: httpx.AsyncClient, ticket: dict[str, Any]
) -> None:
    alert_id = ticket["occurrences"][0]["alert_id"]
    cell = f"#alerts tr[data-alert-id='{alert_id}'] .state"
    assert await text(browser, cell) == en("alert_state.RAISED")
    assert await value(browser, cell, "state") == "RAISED"
    row = f"#tickets tr[data-ticket-id='{ticket['ticket_id']}']"
    assert await text(browser, f"{row} .state") == en("ticket_state.contained")
    await browser.page.click(f"{row} button")
    await browser.page.wait_for_selector("#ticket-view:not([hidden]) #ticket-history li")
    history = (await api.get(f"/v1/tickets/{ticket['ticket_id']}/history")).json()
    items = browser.page.locator("#ticket-history li")
    assert await items.count() == len(history) == 3
    shown_events = [await items.nth(i).get_attribute("data-event") for i in range(len(history))]
    assert shown_events == [h["event"] for h in history] == ["opened", "occurrence", "transition"]
    opened, contained = en("ticket_state.open"), en("ticket_state.contained")
    assert f"{opened} → {contained}" in await items.nth(2).inner_text()
    assert await text(browser, "#ticket-state") == contained


FIGURES: dict[str, float] = {}
# Set by a MutationObserver in the page: when a row for the awaited id is first in the DOM.
WATCH = """([table, attr, id]) => {
  window.__seen = null;
  const root = document.querySelector(`#${table} tbody`);
  const found = () => root.querySelector(`tr[data-${attr}="${id}"]`);
  const obs = new MutationObserver(() => {
    if (found()) { window.__seen = performance.timeOrigin + performance.now(); obs.disconnect(); }
  });
  obs.observe(root, { childList: true, subtree: true });
  window.__no_reload = true;
}"""


async def test_a_new_alert_appears_live_without_a_reload(
    page_server: ApiServer, browser: Browser, park: Park
) -> None:
    alert = make_alert(park.m3, enterprise=park.e2, measured=2.25)
    await browser.page.evaluate(WATCH, ["alerts", "alert-id", str(alert.alert_id)])
    producer = AIOKafkaProducer(bootstrap_servers=page_server.settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        produced_ms = time.time() * 1000
        await producer.send_and_wait(
            topic_name(Topic.ALERTS, page_server.settings.topic_prefix),
            encode_alert(alert),
            key=alert_key(alert),
        )
    finally:
        await producer.stop()
    FIGURES["sse_alert_latency_ms"] = await until(browser, "window.__seen") - produced_ms
    row = f"#alerts tr[data-alert-id='{alert.alert_id}']"
    assert await text(browser, f"{row} .state") == en("alert_state.RAISED")
    assert "2.25 tCO2e" in await text(browser, row)
    # Its ticket follows on the same feed; the page was not reloaded for any of it.
    await browser.page.wait_for_selector(f"#tickets tr:has-text('{park.m3}')", timeout=WAIT_MS)
    assert await browser.page.evaluate("window.__no_reload") is True
    assert browser.problems == []


async def test_the_demo_fault_is_listed_on_the_page_within_seconds(
    page_server: ApiServer, browser: Browser, worker: RunningWorker, unique: str
) -> None:
    """`parkcarbon demo unknown-meter`: a meter outside the registry has no enterprise, so its
    alert and ticket are park-wide; the page lists them live, without a reload."""
    meter_id = f"UNREG-{unique}"
    env = {
        **os.environ,
        "PARKCARBON_DATABASE_URL": page_server.database_url,
        "PARKCARBON_TOPIC_PREFIX": worker.prefix,
    }
    await browser.page.evaluate("window.__no_reload = true")
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv/bin/parkcarbon"),
        "demo",
        "unknown-meter",
        "--meter-id",
        meter_id,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    sent = time.monotonic()
    row = f"#alerts tr:has-text('{meter_id}')"
    await browser.page.wait_for_selector(row, timeout=DEMO_FAULT_WAIT_MS)
    FIGURES["demo_fault_to_page_s"] = time.monotonic() - sent
    assert translate("rule.UNKNOWN_METER", Lang.EN) in await text(browser, row)
    assert f"meter {meter_id}" in await text(browser, row)
    ticket = f"#tickets tr:has-text('{meter_id}')"
    await browser.page.wait_for_selector(ticket, timeout=WAIT_MS)
    assert await text(browser, f"{ticket} .state") == "open"
    assert await browser.page.evaluate("window.__no_reload") is True
    assert browser.problems == []


async def test_a_closed_one_minute_window_moves_the_live_hour(
    page_server: ApiServer, browser: Browser, api: httpx.AsyncClient, park: Park
) -> None:
    before = await value(browser, "#hour-total")
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    window = WindowResult(
        WindowKey(park.m1, 60, start),
        start + timedelta(minutes=1),
        park.e1,
        *ELEC[:2],
        4.0,
        "kWh",
        {"CO2": 0.75},
        0.75,
        "AR5",
        (),
        1.0,
        1.0,
        1.0,
        0,
        False,
    )
    async with await AsyncConnection.connect(page_server.database_url, autocommit=True) as c:
        # m3's minute as the fixture seeds it (this minute may have begun after it did)
        await _insert_window(c, park.m3, park.e2, start, 60, ELEC, 1.0, 0.0015, 1)
        await _insert_window(c, park.m1, park.e1, start, 60, ELEC, 4.0, 0.75, 1)  # stored first,
    producer = AIOKafkaProducer(bootstrap_servers=page_server.settings.kafka_bootstrap)
    await producer.start()
    try:  # then announced, as the stream worker does
        for k, v in encode_windows(WindowResults.of([window])):
            await producer.send_and_wait(
                topic_name(Topic.EMISSIONS_WINDOWS, page_server.settings.topic_prefix), v, key=k
            )
    finally:
        await producer.stop()
    await until(browser, f"document.querySelector('#hour-total').dataset.value !== '{before}'")
    # The value also moves when a minute leaves the hour, so wait until the page shows the
    # API's figure for its own range with the new minute in it.
    minute, deadline = start.isoformat()[:16], time.monotonic() + WAIT_MS / 1000
    while True:
        shot = await snapshot(browser, "#hour-total")
        r = await api.get(
            "/v1/emissions",
            params={
                "from": shot["from"],
                "to": shot["to"],
                "bucket": "1m",
                "group_by": "park",
                "park_id": park.park_id,
            },
        )
        minutes = {i["bucket_start"][:16]: i["tco2e"] for i in r.json()["items"]}
        total = f"{sum(map(Decimal, minutes.values())):.6f}"
        if minute in minutes and shot["value"] == total:
            break
        assert time.monotonic() < deadline, f"page {shot} never showed the API's {total}"
        await asyncio.sleep(0.1)
    assert minutes[minute] == "0.751500"  # 0.75 (m1) + 0.0015 (m3)
    assert browser.problems == []


async def test_the_figures_and_a_screenshot_are_kept(browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "live-page.png"
    await browser.page.evaluate("window.scrollTo(0, 0)")
    await browser.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    latency = FIGURES.get("sse_alert_latency_ms", float("nan"))
    fault = FIGURES.get("demo_fault_to_page_s", float("nan"))
    print(
        f"\nlive page: load (navigation start -> data rendered) {browser.load_ms:.0f} ms;"
        f" SSE alert latency (produce -> DOM) {latency:.0f} ms;"
        f" demo fault (command done -> row on the page) {fault:.1f} s; screenshot {shot}"
    )
    assert 0 < browser.load_ms < 10_000
    assert browser.problems == []


# -- languages: one catalogue, zh-CN and en, at desktop and phone width ------------------------

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORTS = {"desktop": {"width": 1280, "height": 1100}, "phone": {"width": 390, "height": 844}}
# A catalogue key, or a placeholder left unfilled, showing anywhere on the page.
UNTRANSLATED = (
    "(() => { const texts = [document.body.innerText, document.title];"
    " for (const e of document.querySelectorAll('[aria-label],[title],[placeholder]'))"
    "   texts.push(e.getAttribute('aria-label') || '', e.getAttribute('title') || '');"
    " const prefixes = new Set(%s);"
    " const keys = texts.join('\\n').match(/\\b[a-z_]+\\.[A-Za-z0-9_-]+\\b/g) || [];"
    " return [...keys.filter((k) => prefixes.has(k.split('.')[0])),"
    "         ...(texts.join('\\n').match(/\\{[a-z_]+\\}/g) || [])]; })()"
)


def _prefixes() -> str:
    return orjson.dumps(sorted({key.split(".")[0] for key in catalogue()})).decode()


@asynccontextmanager
async def _opened(
    server: ApiServer, key: str, park: Park, locale: str, viewport: dict[str, int]
) -> AsyncIterator[Browser]:
    async with playwright.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = await chromium.new_context(locale=locale, viewport=viewport)
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            await page.goto(f"{server.url}/#key={key}&park={park.park_id}")
            await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
            yield Browser(page, problems, 0.0)
        finally:
            await chromium.close()


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", Lang.ZH_CN), ("en-US", Lang.EN)])
async def test_the_page_speaks_the_browsers_language_with_no_key_left_untranslated(
    page_server: ApiServer,
    key: str,
    park: Park,
    ticket: dict[str, Any],
    locale: str,
    lang: Lang,
    width: str,
) -> None:
    async with _opened(page_server, key, park, locale, VIEWPORTS[width]) as b:
        # Every part has rendered (alerts and tickets too) before the page is read.
        await b.page.wait_for_selector(f"#tickets tr[data-ticket-id='{ticket['ticket_id']}']")
        assert await b.page.evaluate("document.documentElement.lang") == lang.value
        assert await b.page.evaluate(UNTRANSLATED % _prefixes()) == []
        tr = catalogue()
        assert await text(b, "#h-live") == tr["page.h_live"][lang]
        assert await text(b, "#h-alerts") == tr["page.h_alerts"][lang]
        assert await text(b, "#lang-select option:checked") == tr[f"lang.{lang.value}"][lang]
        today = await snapshot(b, "#today-total")  # the API's figure in data-value
        assert today["text"] == shown(today["value"], "tCO2e", lang)
        row = f"#tickets tr[data-ticket-id='{ticket['ticket_id']}'] .state"
        assert await text(b, row) == tr["ticket_state.contained"][lang]
        # Usable on a phone: nothing wider than the screen but inside a card's own scroll.
        assert await b.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            "the page scrolls sideways"
        )
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / f"live-page-{lang.value}-{width}.png"
        await b.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert b.problems == []


async def test_the_language_switch_is_remembered_over_the_browsers_language(
    page_server: ApiServer, key: str, park: Park
) -> None:
    async with _opened(page_server, key, park, "en-US", VIEWPORTS["desktop"]) as b:
        assert await text(b, "#h-today") == en("page.h_today")
        await b.page.select_option("#lang-select", "zh-CN")
        zh = catalogue()["page.h_today"][Lang.ZH_CN]
        assert await until(b, f"document.querySelector('#h-today').innerText === '{zh}'")
        assert await b.page.evaluate("localStorage.getItem('parkcarbon.lang')") == "zh-CN"
        await b.page.goto(f"{page_server.url}/#key={key}&park={park.park_id}")
        await b.page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
        assert await text(b, "#h-today") == zh  # Accept-Language is still en-US
        assert await b.page.evaluate(UNTRANSLATED % _prefixes()) == []
        assert b.problems == []


@pytest.mark.parametrize(
    ("header", "accepted"),
    [("zh-CN,zh;q=0.9", "zh-CN"), ("en-GB,en;q=0.8", "en"), ("fr-FR", None), (None, None)],
)
async def test_the_pages_messages_are_both_languages_and_the_browsers_choice(
    page_server: ApiServer, header: str | None, accepted: str | None
) -> None:
    headers = {} if header is None else {"Accept-Language": header}
    async with httpx.AsyncClient(base_url=page_server.url) as anonymous:
        r = await anonymous.get("/page/messages", headers=headers)
    assert r.status_code == 200 and r.headers["vary"] == "Accept-Language"
    body = r.json()
    assert body["accepted"] == accepted
    assert body["messages"]["zh-CN"]["unit.tCO2e"] == "吨二氧化碳当量"
    assert set(body["messages"]["en"]) == set(body["messages"]["zh-CN"]) == set(catalogue())


async def test_a_park_without_a_language_setting_defaults_to_chinese(
    api: httpx.AsyncClient, park: Park
) -> None:
    parks = {p["park_id"]: p for p in (await api.get("/page/context")).json()["parks"]}
    assert parks[park.park_id]["language"] == "zh-CN"
