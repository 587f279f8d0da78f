"""Panel queries: raw SQL for Grafana's PostgreSQL datasource, PromQL for the gateways' metrics.

grafana-foundation-sdk ships no builder for the core PostgreSQL datasource, so ``SqlQuery`` is
one, shaped like the query model the SQL datasources save (``rawSql``, ``format``,
``editorMode: code``). Each query also declares what its panel needs back — the columns of a
table, or that it is a time series — so the tests can run it and check exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Self

from grafana_foundation_sdk.builders.prometheus import Dataquery as PrometheusQuery
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.common import DataSourceRef

from deploy.grafana import DATASOURCE_TYPE, DATASOURCE_UID, PROMETHEUS_TYPE, PROMETHEUS_UID

Format = Literal["time_series", "table"]


def postgres_ref() -> DataSourceRef:
    return DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


def prometheus_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


@dataclass
class SqlDataquery(cogvariants.Dataquery):
    """One target of a panel: the SQL as Grafana stores it."""

    ref_id: str
    raw_sql: str
    format: Format

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID},
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


@dataclass(frozen=True)
class Expectation:
    """What a query must return for its panel to draw (checked by tests/deploy)."""

    format: Format
    columns: tuple[str, ...] = ()  # a table's columns, in order; empty for a time series
    rows: bool = True  # a simulated day must give it rows


@dataclass
class SqlQuery(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of one SQL target. ``columns`` are a table's, in order."""

    sql: str
    format: Format = "table"
    columns: tuple[str, ...] = ()
    rows: bool = True
    ref_id: str = "A"

    def ref(self, ref_id: str) -> Self:
        self.ref_id = ref_id
        return self

    def expectation(self) -> Expectation:
        return Expectation(self.format, self.columns, self.rows)

    def build(self) -> cogvariants.Dataquery:
        return SqlDataquery(self.ref_id, self.sql.strip(), self.format)


def table(sql: str, *columns: str, rows: bool = True) -> SqlQuery:
    if not columns:
        raise ValueError("a table query names its columns")
    return SqlQuery(sql, "table", tuple(columns), rows)


def series(sql: str, *, rows: bool = True) -> SqlQuery:
    return SqlQuery(sql, "time_series", (), rows)


def promql(expr: str, legend: str, ref_id: str = "A") -> PrometheusQuery:
    return (
        PrometheusQuery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .datasource(prometheus_ref())
    )
