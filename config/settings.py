"""Settings: one class per process kind on one shared base.

Values come, highest priority first, from keyword arguments, ``PARKCARBON_*`` environment
variables, the YAML file named by ``PARKCARBON_CONFIG_FILE`` (default ``parkcarbon.yaml`` in the
working directory, if present), then the defaults below, which point at the local stack that
``parkcarbon stack start`` runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from accounting.instants import DEFAULT_BOUND_YEARS
from config import kafka_security
from config.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol

DEFAULT_CONFIG_FILE = "parkcarbon.yaml"


def _has_password(conninfo: str) -> bool:
    """Whether a libpq connection string names a password: the URL form
    (``postgresql://user:secret@host/db``, or ``?password=``) or the key/value form. Parsed
    here without a database driver, which the gateway does not install."""
    if "://" in conninfo:
        parts = urlsplit(conninfo)
        return bool(parts.password) or bool(parse_qs(parts.query).get("password"))
    return re.search(r"(?:^|\s)password\s*=\s*\S", conninfo) is not None


class ConfigError(Exception):
    """A settings value or the YAML file is invalid; the message names the file and the key."""


def config_file() -> Path:
    return Path(os.environ.get("PARKCARBON_CONFIG_FILE", DEFAULT_CONFIG_FILE))


class CommonSettings(BaseSettings):
    """What every process needs: where the broker, the database and local state are."""

    # One YAML file serves every process kind, so each kind ignores the others' keys; `load`
    # refuses keys that no kind knows.
    model_config = SettingsConfigDict(env_prefix="PARKCARBON_", extra="ignore")

    state_dir: Path = Field(
        default=Path(".parkcarbon"),
        description="Folder for the local stack's data, logs and pid files (git-ignored).",
    )
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]."
    )
    kafka_max_message_bytes: int = Field(
        default=900_000,
        ge=10_000,
        le=10_000_000,
        description="Largest message the EMS push and backfill send to readings.raw and the "
        "worker sends to readings.valid, readings.rejected and emissions.windows (encoded, "
        "before compression): a larger one goes out as several messages. Keep it below the "
        "broker's message.max.bytes and the topic's max.message.bytes (1,048,588 by default).",
    )
    kafka_compression: Literal["gzip", "none"] = Field(
        default="gzip",
        description="Compression of the readings.raw messages the EMS push and backfill send "
        "(gzip: every Kafka client reads it without an extra library).",
    )
    database_url: str = Field(
        default="postgresql://parkcarbon@127.0.0.1:5432/parkcarbon",
        description="PostgreSQL/TimescaleDB connection URL (libpq form).",
    )
    topic_partitions: int = Field(
        default=6, ge=1, le=1000, description="Partitions of each parkcarbon topic."
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]{0,64}$",
        description="Prefix of every parkcarbon topic name: several parks or environments "
        "can share one Kafka cluster.",
    )
    topic_replication: int = Field(
        default=1, ge=1, le=10, description="Replication factor of each parkcarbon topic."
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="How clients reach Kafka: PLAINTEXT (loopback, closed network), SSL (TLS) "
        "or SASL_SSL (TLS and a SASL login). SASL_PLAINTEXT is refused: it sends data and "
        "a PLAIN password in clear text.",
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the broker's certificate; unset trusts "
        "the system's CAs. SSL and SASL_SSL only.",
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS; needs the key file."
    )
    kafka_ssl_key_file: Path | None = Field(
        default=None, description="Private key (PEM, unencrypted) of the client certificate."
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", description="SASL mechanism with SASL_SSL: SCRAM-SHA-512 or PLAIN."
    )
    kafka_sasl_username: str = Field(default="", description="SASL user name (SASL_SSL only).")
    kafka_sasl_password: SecretStr = Field(
        default=SecretStr(""), description="SASL password (SASL_SSL only)."
    )

    @field_validator("kafka_security_protocol", mode="before")
    @classmethod
    def _protocol(cls, value: object) -> object:
        return kafka_security.check_protocol(value)

    @field_validator("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        return kafka_security.check_file(value)

    @model_validator(mode="after")
    def _kafka_security(self) -> CommonSettings:
        kafka_security.check(self.kafka_security(), prefix="kafka_")
        return self

    def kafka_security(self) -> KafkaSecurity:
        """The TLS/SASL settings every Kafka client of this process is built with."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            ca_file=self.kafka_ssl_ca_file,
            cert_file=self.kafka_ssl_cert_file,
            key_file=self.kafka_ssl_key_file,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
        )

    env: Literal["development", "production"] = Field(
        default="development",
        description="production (what docker-compose sets) refuses to start without the "
        "secrets the process needs: a database password (in database_url or PGPASSWORD), the "
        "Kafka SASL password with SASL_SSL, and for `grafana push` a Grafana token or password "
        "and the reader role's password.",
    )

    def missing_secrets(self) -> list[str]:
        """The variables a production start needs set and finds empty (none in development)."""
        missing = []
        if not (os.environ.get("PGPASSWORD") or _has_password(self.database_url)):
            missing.append("PARKCARBON_DATABASE_URL password (or PGPASSWORD)")
        sasl = self.kafka_security_protocol == "SASL_SSL"
        if sasl and not self.kafka_sasl_password.get_secret_value():
            missing.append("PARKCARBON_KAFKA_SASL_PASSWORD")
        return missing

    @model_validator(mode="after")
    def _production_secrets(self) -> CommonSettings:
        if self.env == "production" and (missing := self.missing_secrets()):
            raise ValueError(
                "PARKCARBON_ENV=production refuses to start with an empty secret: "
                + ", ".join(missing)
            )
        return self

    storage_mode: Literal["auto", "postgresql", "timescaledb"] = Field(
        default="auto",
        description="Storage mode a new database is migrated in: auto takes TimescaleDB when "
        "the server has the extension installed and preloaded, else plain PostgreSQL (and "
        "says what to change); postgresql or timescaledb insist. A database keeps the mode "
        "it was first migrated in.",
    )

    timestamp_bound_years: int = Field(
        default=DEFAULT_BOUND_YEARS,
        ge=1,
        le=1000,
        description="Hard sanity bound on a reading's time: more than this many years before "
        "or after now (the message's time in the worker) is rejected as "
        "TIMESTAMP_OUT_OF_RANGE by every parser (worker, EMS push, backfill), before the "
        "meters' FUTURE_TIMESTAMP and TOO_OLD rules.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


class StackSettings(CommonSettings):
    """The local development stack: a single-node Kafka (KRaft) and a PostgreSQL server."""

    kafka_version: str = Field(default="4.1.1", description="Apache Kafka broker version.")
    kafka_heap_mb: int = Field(default=768, ge=256, le=8192, description="Broker JVM heap.")
    kafka_controller_port: int = Field(default=9093, description="KRaft controller port.")
    kafka_sasl_ssl_port: int = Field(
        default=9094,
        ge=0,
        le=65535,
        description="Port of the broker's SASL_SSL listener (TLS + SCRAM-SHA-512 logins and "
        "ACLs, as remote gateways use it), on the same host as kafka_bootstrap; 0 = no such "
        "listener and no authorizer.",
    )
    start_timeout_s: float = Field(default=90.0, gt=0, description="Bounded readiness wait.")
    timescaledb_source: Path | None = Field(
        default=None,
        description="A TimescaleDB release source archive (e.g. timescaledb-2.28.3.tar.gz): "
        "`stack start` builds it once (cached under state_dir/timescaledb, nothing "
        "downloaded; needs cmake and postgresql-server-dev), installs it into the local "
        "PostgreSQL and starts the server with it preloaded. Unset: plain PostgreSQL.",
    )


class WorkerSettings(CommonSettings):
    """A stream worker of the Faust app."""

    app_id: str = Field(default="parkcarbon", description="Faust app id (consumer group).")
    registry_refresh_s: float = Field(
        default=5.0,
        ge=0.1,
        le=3600,
        description="How often the worker checks the meter registry's fingerprint and reloads "
        "it when it changed (a meter's new installation date, a grant); an unknown meter in a "
        "batch triggers a check at once.",
    )
    malloc_trim_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How often the worker hands freed memory back to the kernel (glibc "
        "malloc_trim; with at most two malloc arenas), so its resident size stays flat; 0: never.",
    )
    gwp_set: Literal["AR4", "AR5", "AR6"] = Field(
        default="AR5", description="IPCC GWP set (100-year) that CO2e results use."
    )
    session_timeout_s: float = Field(
        default=30.0,
        ge=6,
        le=300,
        description="Kafka group session timeout: how soon a dead worker's partitions move on.",
    )
    intake_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Most raw messages validated and stored in one database transaction.",
    )
    window_max_wait_s: float = Field(
        default=120.0,
        gt=0,
        description="Compute a window this long after its end even if its meter fell silent.",
    )
    alert_horizon_s: int = Field(
        default=2 * 86_400,
        ge=3600,
        le=366 * 86_400,
        description=(
            "Hour windows that ended longer ago than this (history imports, recomputed past"
            " periods) are not evaluated for deviations: no alert, no notification."
        ),
    )
    fine_windows_horizon_s: int = Field(
        default=7 * 86_400,
        ge=3600,
        le=366 * 86_400,
        description=(
            "1- and 5-minute windows ending longer ago than this are not materialised (history"
            " imports); 15-minute and hour windows, and the day/month rollups, always are."
        ),
    )
    fine_windows_max_interval_s: int = Field(
        default=6 * 3600,
        ge=900,
        le=31 * 86_400,
        description=(
            "1- and 5-minute windows are not materialised where only intervals longer than"
            " this (a meter silent that long) overlap them."
        ),
    )


class ApiSettings(CommonSettings):
    """The HTTP API: EMS push, queries, alerts and tickets, webhooks, the live feed."""

    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    api_max_body_bytes: int = Field(
        default=5_000_000,
        ge=1_000,
        le=100_000_000,
        description="Largest request body accepted; larger ones get 413.",
    )
    api_max_readings: int = Field(
        default=10_000,
        ge=1,
        le=100_000,
        description="Most readings in one EMS push request; more get 413.",
    )
    api_kafka_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long an EMS push waits for Kafka to acknowledge before answering 503.",
    )
    api_consume_alerts: bool = Field(
        default=True,
        description="Run the alerts consumer that stores alerts and opens tickets in this "
        "process (one API process per park should).",
    )
    live_key_recheck_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How often an open live feed re-checks its API key; a revoked or expired "
        "key's feed ends within this time.",
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook endpoints on loopback and private addresses (link-local "
        "and cloud metadata addresses are always refused).",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Timeout of one webhook delivery attempt."
    )
    webhook_max_attempts: int = Field(
        default=12,
        ge=1,
        le=50,
        description="Delivery attempts of one webhook message before it is marked failed.",
    )
    webhook_backoff_base_s: float = Field(
        default=2.0,
        gt=0,
        le=600,
        description="First retry delay of a webhook delivery; doubles per attempt, with jitter.",
    )
    webhook_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two webhook delivery attempts."
    )
    webhook_smtp_ca_file: str | None = Field(
        default=None,
        description="PEM file of a CA that signs the park's own SMTP server, trusted besides "
        "the system's roots by e-mail alert channels.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="The API's address as duty staff reach it: the base of ticket links in "
        "alert notifications (WeCom, DingTalk, Feishu, e-mail).",
    )


S = TypeVar("S", bound=CommonSettings)


def _known_keys(kind: type[CommonSettings] = CommonSettings) -> set[str]:
    keys = set(kind.model_fields)
    for sub in kind.__subclasses__():
        keys |= _known_keys(sub)
    return keys


def _check_yaml(path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of setting: value")
    unknown = sorted(str(k) for k in data if k not in _known_keys())
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")


def load(kind: type[S], **overrides: Any) -> S:
    """Build settings of ``kind``; a bad value becomes a ConfigError naming file and key."""
    if config_file().is_file():
        _check_yaml(config_file())
    try:
        return kind(**overrides)
    except ValidationError as exc:
        where = config_file() if config_file().is_file() else "environment"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings ({where}): {problems}") from exc


class GrafanaSettings(CommonSettings):
    """`parkcarbon grafana push`: the Grafana to upload to, and how it reaches the database."""

    grafana_url: str = Field(
        default="http://127.0.0.1:3000", description="Base URL of the Grafana to push to."
    )
    grafana_token: SecretStr = Field(
        default=SecretStr(""),
        description="Grafana service-account token (preferred); empty uses user and password.",
    )
    grafana_user: str = Field(default="admin", description="Grafana user for basic auth.")
    grafana_password: SecretStr = Field(
        default=SecretStr(""), description="Grafana password for basic auth."
    )
    grafana_db_host: str = Field(
        default="",
        description="host:port of the database as Grafana reaches it; empty takes the host "
        "of database_url.",
    )
    grafana_db_password: SecretStr = Field(
        default=SecretStr(""),
        description="Password of the read-only role parkcarbon_reader, given to Grafana's "
        "datasource.",
    )

    def missing_secrets(self) -> list[str]:
        missing = super().missing_secrets()
        token, password = self.grafana_token, self.grafana_password
        if not (token.get_secret_value() or password.get_secret_value()):
            missing.append("PARKCARBON_GRAFANA_TOKEN or PARKCARBON_GRAFANA_PASSWORD")
        if not self.grafana_db_password.get_secret_value():
            missing.append("PARKCARBON_GRAFANA_DB_PASSWORD")
        return missing

    grafana_prometheus_url: str = Field(
        default="",
        description="A Prometheus scraping the gateways' metrics; empty pushes no Prometheus "
        "datasource.",
    )
