"""Grafana as code: committed JSON is current, uids are unique, datasources match provisioning,
the version matches docker-compose, and the macro expansion matches Grafana's own test cases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from accounting.i18n import Lang, MissingMessageError
from cli.main import app
from config.settings import GrafanaSettings
from deploy.grafana import (
    DASHBOARD_DIR,
    DASHBOARD_PROVIDER_FILE,
    DATASOURCE_FILE,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOUNDATION_SDK_VERSION,
    GRAFANA_IMAGE,
    PROMETHEUS_UID,
    READER_ROLE,
)
from deploy.grafana import macros as m
from deploy.grafana.build import differences, generate, render
from deploy.grafana.localize import text as localize_text
from deploy.grafana.push import datasources

ROOT = Path(__file__).resolve().parents[2]


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in model["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows keep theirs inside
    return found


def _provisioned() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(DATASOURCE_FILE.read_text(encoding="utf-8"))
    return {ds["uid"]: ds for ds in data["datasources"]}


def test_committed_json_equals_a_fresh_generation() -> None:
    assert differences() == [], "run `parkcarbon grafana build` and commit the result"
    for dashboard in generate():
        path = DASHBOARD_DIR / dashboard.filename
        assert path.read_text(encoding="utf-8") == render(dashboard.model)


def test_build_check_command_agrees() -> None:
    result = CliRunner().invoke(app, ["grafana", "build", "--check"])
    assert result.exit_code == 0, result.output
    assert "current" in result.output


def test_uids_and_panel_ids_are_unique() -> None:
    dashboards = generate()
    uids = [d.uid for d in dashboards]
    assert len(uids) == len(set(uids)) == 8  # four dashboards, each in en and zh-CN
    for dashboard in dashboards:
        assert dashboard.model["uid"] == dashboard.uid
        ids = [p["id"] for p in _panels(dashboard.model)]
        assert len(ids) == len(set(ids)), dashboard.uid
        titles = [p["title"] for p in _panels(dashboard.model) if p["type"] != "row"]
        assert len(titles) == len(set(titles)), dashboard.uid


def test_every_target_uses_a_provisioned_datasource() -> None:
    provisioned = _provisioned()
    assert provisioned[DATASOURCE_UID]["type"] == DATASOURCE_TYPE
    assert PROMETHEUS_UID in provisioned
    for dashboard in generate():
        for panel in _panels(dashboard.model):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in provisioned, panel["title"]
            for target in panel["targets"]:
                uid = target["datasource"]["uid"]
                assert uid in provisioned, (dashboard.uid, panel["title"])
                assert target["datasource"]["type"] == provisioned[uid]["type"]
                if uid == DATASOURCE_UID:
                    assert target["rawSql"].strip() and target["format"] in ("table", "time_series")
                    # Grafana strips SQL comments before expanding macros; there are none.
                    assert "--" not in target["rawSql"] and "/*" not in target["rawSql"]
                    assert (panel["id"], target["refId"]) in dashboard.expectations
        for variable in dashboard.model["templating"]["list"]:
            assert variable["datasource"]["uid"] == DATASOURCE_UID


def test_every_sql_target_declares_what_its_panel_needs() -> None:
    for dashboard in generate():
        sql_targets = {
            (p["id"], t["refId"])
            for p in _panels(dashboard.model)
            if p["type"] != "row"
            for t in p["targets"]
            if t["datasource"]["uid"] == DATASOURCE_UID
        }
        assert sql_targets == set(dashboard.expectations), dashboard.uid


def test_provisioning_reads_no_secret_and_uses_the_reader_role() -> None:
    text = DATASOURCE_FILE.read_text(encoding="utf-8")
    pg = _provisioned()[DATASOURCE_UID]
    assert pg["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"
    assert pg["user"] == "${GRAFANA_DB_USER}"
    assert isinstance(pg["jsonData"]["timescaledb"], bool)  # a string would stop the plugin
    assert READER_ROLE in text
    migration = (ROOT / "store/migrations/0011_grafana_reader.sql").read_text(encoding="utf-8")
    assert "PASSWORD '" not in migration.split("--")[0]
    providers = yaml.safe_load(DASHBOARD_PROVIDER_FILE.read_text(encoding="utf-8"))
    assert providers["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"


def test_push_payloads_match_the_provisioning_file() -> None:
    settings = GrafanaSettings(
        database_url="postgresql://parkcarbon@db.example:6543/park",
        grafana_db_password="s3cret",
        grafana_prometheus_url="http://prometheus:9090",
    )
    pushed = {ds["uid"]: ds for ds in datasources(settings, timescaledb=False)}
    provisioned = _provisioned()
    assert set(pushed) == set(provisioned)
    pg = pushed[DATASOURCE_UID]
    assert (pg["url"], pg["jsonData"]["database"], pg["user"]) == (
        "db.example:6543",
        "park",
        READER_ROLE,
    )
    assert pg["jsonData"]["timescaledb"] is False
    assert set(pg["jsonData"]) == set(provisioned[DATASOURCE_UID]["jsonData"])
    for uid, ds in pushed.items():
        assert ds["type"] == provisioned[uid]["type"]
    only_pg = datasources(GrafanaSettings(), timescaledb=True)
    assert [ds["uid"] for ds in only_pg] == [DATASOURCE_UID]
    assert only_pg[0]["jsonData"]["timescaledb"] is True


def test_pinned_versions_match_compose_and_the_installed_sdk() -> None:
    compose = ROOT / "docker-compose.yml"
    if compose.is_file():
        services = yaml.safe_load(compose.read_text(encoding="utf-8"))["services"]
        assert services["grafana"]["image"] == GRAFANA_IMAGE
    assert metadata.version("grafana-foundation-sdk").lstrip("v") == FOUNDATION_SDK_VERSION
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"grafana-foundation-sdk=={FOUNDATION_SDK_VERSION}"' in pyproject
    for dashboard in generate():
        assert dashboard.model["schemaVersion"] == 42  # Grafana 12's dashboard schema


def test_push_to_nothing_fails_cleanly() -> None:
    # No Grafana server can be installed here; a refused connection must be a clean error.
    result = CliRunner().invoke(
        app, ["grafana", "push", "--url", "http://127.0.0.1:9", "--no-timescaledb"]
    )
    assert result.exit_code == 1
    assert "push to http://127.0.0.1:9 failed" in result.output


# --- macro expansion: the cases of Grafana's pkg/tsdb/grafana-postgresql-datasource tests -------

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
TO = FROM + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select $__time(time_column)", 'select time_column AS "time"'),
        ("select min($__time(time_column))", 'select min(time_column AS "time")'),
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        (
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m') as time, value",
            "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
        ),
        (
            "SELECT $__timeGroup(time_column,'5m')",
            "SELECT floor(extract(epoch from time_column)/300)*300",
        ),
        (
            "SELECT $__timeGroupAlias(time_column,'5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        ("$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
        ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
        (
            "select $__unixEpochNanoFilter(time)",
            "select time >= 1523556000000000000 AND time <= 1523556300000000000",
        ),
        ("select $__unixEpochNanoFrom()", "select 1523556000000000000"),
        (
            "SELECT $__unixEpochGroup(time_column+time_adjustment,'5m')",
            "SELECT floor((time_column+time_adjustment)/300)*300",
        ),
    ],
)
def test_macros_expand_as_grafana_does(sql: str, expected: str) -> None:
    assert m.interpolate_macros(sql, FROM, TO) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("GROUP BY $__timeGroup(time_column,'5m')", "GROUP BY time_bucket('300.000s',time_column)"),
        (
            "GROUP BY $__timeGroup(time_column , '12d')",
            "GROUP BY time_bucket('1036800.000s',time_column)",
        ),
        (
            "GROUP BY $__timeGroup(time_column , '20ms')",
            "GROUP BY time_bucket('0.020s',time_column)",
        ),
    ],
)
def test_timescaledb_time_group(sql: str, expected: str) -> None:
    assert m.interpolate_macros(sql, FROM, TO, timescaledb=True) == expected


def test_fractional_seconds_and_errors() -> None:
    start = datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=UTC)
    assert m.rfc3339nano(start) == "1960-02-01T07:00:00.5Z"
    with pytest.raises(m.MacroError, match="unknown macro"):
        m.interpolate_macros("select $__nope(x)", FROM, TO)
    with pytest.raises(m.MacroError, match="missing time column"):
        m.interpolate_macros("select $__timeFilter()", FROM, TO)
    assert m.go_float(2592000.0) == "2.592e+06"
    assert m.go_float(86400.0) == "86400"
    assert m.go_float(0.5) == "0.5"


def test_interval_and_template_variables() -> None:
    day = timedelta(days=1)
    # 24 h over 1,000 points rounds to 1m; the panel's 1h min interval wins.
    assert m.panel_interval(FROM, FROM + day, 1000, None) == timedelta(minutes=1)
    assert m.panel_interval(FROM, FROM + day, 1000, "1h") == timedelta(hours=1)
    assert m.panel_interval(FROM, FROM + 30 * day, 300, "1h") == timedelta(hours=2)
    assert m.panel_interval(FROM, FROM + 365 * day, 300, "1h") == timedelta(days=1)
    assert m.format_interval(timedelta(hours=12)) == "12h"
    variables = {
        "park": m.Variable("o'park"),
        "enterprise": m.Variable(["a", "b'c"], multi=True, include_all=True),
        "one": m.Variable("x", multi=True),
    }
    sql = "p = '$park' AND e IN ($enterprise) AND o IN ($one) AND $__timeFilter(ts) AND $parkX"
    assert m.interpolate_variables(sql, variables) == (
        "p = 'o''park' AND e IN ('a','b''c') AND o IN ('x') AND $__timeFilter(ts) AND $parkX"
    )
    full = m.expand(
        "SELECT $__timeGroupAlias(ts, $__interval), $__interval_ms FROM t WHERE $__timeFilter(ts)",
        variables={},
        time_from=FROM,
        time_to=TO,
        interval=timedelta(hours=1),
    )
    assert full == (
        'SELECT floor(extract(epoch from ts)/3600)*3600 AS "time", 3600000 FROM t '
        "WHERE ts BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'"
    )
    assert not re.search(r"\$\w", full)


def test_each_dashboard_has_an_english_and_a_chinese_twin_with_the_same_queries() -> None:
    by_uid = {d.uid: d for d in generate()}
    for uid in ("park-overview", "enterprise", "meter-health", "alerts-actions"):
        en, zh = by_uid[f"parkcarbon-{uid}-en"], by_uid[f"parkcarbon-{uid}-zh"]
        assert (en.lang, zh.lang) == (Lang.EN, Lang.ZH_CN)
        assert en.title != zh.title and re.search(r"[\u4e00-\u9fff]", zh.title)
        en_panels, zh_panels = _panels(en.model), _panels(zh.model)
        assert [p["id"] for p in en_panels] == [p["id"] for p in zh_panels]
        assert [t.get("rawSql") for p in en_panels for t in p.get("targets", [])] == [
            t.get("rawSql") for p in zh_panels for t in p.get("targets", [])
        ]
        assert en.expectations == zh.expectations
        # Each links to its twin, so a reader switches language in one click.
        assert [link["url"] for link in zh.model["links"]] == [f"/d/parkcarbon-{uid}-en"]
        assert [link["url"] for link in en.model["links"]] == [f"/d/parkcarbon-{uid}-zh"]


def test_the_chinese_dashboards_have_no_english_title_label_or_column_header_left() -> None:
    def english(text: str) -> bool:
        # A word of two or more Latin letters that is not a unit, a code or a product name.
        # counted and export are values the "Counted as" column shows as the database has them.
        allowed = {"tCO2e", "CO2e", "Prometheus", "counted", "export"}
        words = re.findall(r"[A-Za-z][A-Za-z_0-9]+", text)
        return any(w not in allowed and not w.isupper() and "_" not in w for w in words)

    for dashboard in (d for d in generate() if d.lang is Lang.ZH_CN):
        model = dashboard.model
        shown = [model["title"], model.get("description", "")]
        shown += [v.get("label", "") for v in model.get("templating", {}).get("list", [])]
        for panel in _panels(model):
            shown += [panel.get("title", ""), panel.get("description", "")]
            for override in panel.get("fieldConfig", {}).get("overrides", []):
                shown += [str(p["value"]) for p in override["properties"]]
            aliases = {
                a
                for t in panel.get("targets", [])
                for a in re.findall(r'AS "([^"]+)"', t.get("rawSql", ""))
            }
            renamed = {
                o["matcher"]["options"] for o in panel.get("fieldConfig", {}).get("overrides", [])
            }
            # Every column header that reads as English is renamed by an override.
            assert {a for a in aliases if english(a)} <= renamed, (dashboard.uid, panel["title"])
        assert [t for t in shown if t and english(t)] == [], dashboard.uid


def test_a_dashboard_text_missing_from_the_catalogue_stops_the_build() -> None:
    with pytest.raises(MissingMessageError, match="Brand new panel"):
        localize_text("Brand new panel", Lang.ZH_CN)
