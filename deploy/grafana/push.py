"""Upload the datasources, the folder and the dashboards to a running Grafana, idempotently.

Everything is addressed by its fixed uid: a datasource is updated when its uid exists and
created otherwise; dashboards are posted with ``overwrite`` (Grafana's create-or-update by uid).
A second push changes nothing but Grafana's version counters. Uses grafana-client (maintained;
the older grafana-api package is unmaintained since 2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from config.settings import GrafanaSettings
from deploy.grafana import (
    DATASOURCE_NAME,
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    PROMETHEUS_NAME,
    PROMETHEUS_TYPE,
    PROMETHEUS_UID,
    READER_ROLE,
)
from deploy.grafana.build import generate


@dataclass(frozen=True)
class Plan:
    datasources: list[dict[str, Any]]
    dashboards: list[dict[str, Any]]


def _db_host_and_name(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    host = parts.hostname or "127.0.0.1"
    return f"{host}:{parts.port or 5432}", (parts.path.lstrip("/") or "parkcarbon")


def datasources(settings: GrafanaSettings, *, timescaledb: bool) -> list[dict[str, Any]]:
    """The datasource payloads, equal to what the provisioning file declares."""
    host, name = _db_host_and_name(settings.database_url)
    postgres: dict[str, Any] = {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": settings.grafana_db_host or host,
        "user": READER_ROLE,
        "isDefault": True,
        "jsonData": {
            "database": name,
            "sslmode": "disable",
            "postgresVersion": 1500,
            "timescaledb": timescaledb,
            "timeInterval": "1m",
            "maxOpenConns": 10,
        },
        "secureJsonData": {"password": settings.grafana_db_password.get_secret_value()},
    }
    found = [postgres]
    if settings.grafana_prometheus_url:
        found.append(
            {
                "name": PROMETHEUS_NAME,
                "uid": PROMETHEUS_UID,
                "type": PROMETHEUS_TYPE,
                "access": "proxy",
                "url": settings.grafana_prometheus_url,
                "jsonData": {"timeInterval": "15s"},
            }
        )
    return found


def plan(settings: GrafanaSettings, *, timescaledb: bool) -> Plan:
    return Plan(
        datasources(settings, timescaledb=timescaledb),
        [d.model for d in generate()],
    )


def connect(settings: GrafanaSettings, url: str | None = None) -> Any:
    """A grafana-client API object (its methods are untyped, hence ``Any``)."""
    token = settings.grafana_token.get_secret_value()
    credential: str | tuple[str, str] = token or (
        settings.grafana_user,
        settings.grafana_password.get_secret_value(),
    )
    api: Any = GrafanaApi.from_url(url or settings.grafana_url, credential=credential, timeout=10.0)
    return api


def _exists(call: Any, uid: str) -> bool:
    try:
        call(uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def push(api: Any, work: Plan) -> list[str]:
    """Create or update everything in ``work``; returns one line per object."""
    done = []
    for ds in work.datasources:
        if _exists(api.datasource.get_datasource_by_uid, ds["uid"]):
            api.datasource.update_datasource_by_uid(ds["uid"], ds)
            done.append(f"datasource {ds['uid']}: updated")
        else:
            api.datasource.create_datasource(ds)
            done.append(f"datasource {ds['uid']}: created")
    if not _exists(api.folder.get_folder, FOLDER_UID):
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        done.append(f"folder {FOLDER_UID}: created")
    for model in work.dashboards:
        body = {key: value for key, value in model.items() if key not in ("id", "version")}
        api.dashboard.update_dashboard(
            {
                "dashboard": body,
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "parkcarbon grafana push",
            }
        )
        done.append(f"dashboard {model['uid']}: saved")
    return done
