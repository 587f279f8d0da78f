from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.settings import (
    ApiSettings,
    CommonSettings,
    ConfigError,
    GrafanaSettings,
    StackSettings,
    WorkerSettings,
    load,
)


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PARKCARBON_"):
            monkeypatch.delenv(name)


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load(CommonSettings)
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.database_url.startswith("postgresql://parkcarbon@127.0.0.1:5432/")
    assert settings.topic_partitions == 6


def test_environment_overrides_the_yaml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("topic_partitions: 12\nkafka_bootstrap: 127.0.0.1:19092\n")
    monkeypatch.setenv("PARKCARBON_CONFIG_FILE", str(config))
    monkeypatch.setenv("PARKCARBON_TOPIC_PARTITIONS", "3")
    settings = load(WorkerSettings)
    assert settings.topic_partitions == 3
    assert settings.kafka_bootstrap == "127.0.0.1:19092"


def test_a_bad_yaml_value_names_the_file_and_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("topic_partitions: lots\n")
    monkeypatch.setenv("PARKCARBON_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match=rf"{config}.*topic_partitions"):
        load(StackSettings)


def test_an_unknown_yaml_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("kafka_bootstrapp: 127.0.0.1:9092\n")
    monkeypatch.setenv("PARKCARBON_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="kafka_bootstrapp"):
        load(CommonSettings)


def test_one_yaml_file_serves_every_process_kind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("app_id: park-a\nkafka_heap_mb: 512\n")
    monkeypatch.setenv("PARKCARBON_CONFIG_FILE", str(config))
    assert load(WorkerSettings).app_id == "park-a"
    assert load(StackSettings).kafka_heap_mb == 512


def test_a_yaml_file_that_is_not_a_mapping_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("- just\n- a list\n")
    monkeypatch.setenv("PARKCARBON_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load(CommonSettings)


# -- production refuses empty secrets ---------------------------------------------------------


def test_production_refuses_a_database_without_a_password_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PARKCARBON_ENV", "production")
    with pytest.raises(ConfigError, match=r"PARKCARBON_DATABASE_URL password \(or PGPASSWORD\)"):
        load(WorkerSettings)


def test_production_starts_with_the_password_in_pgpassword_or_in_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARKCARBON_ENV", "production")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    assert load(ApiSettings).env == "production"
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PARKCARBON_DATABASE_URL", "postgresql://app:s3cret@db:5432/park")
    assert load(WorkerSettings).missing_secrets() == []


def test_development_starts_without_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    settings = load(GrafanaSettings)
    assert settings.env == "development"
    assert len(settings.missing_secrets()) == 3  # listed, not enforced


def test_production_grafana_push_needs_a_token_or_password_and_the_readers_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARKCARBON_ENV", "production")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    with pytest.raises(ConfigError) as refused:
        load(GrafanaSettings)
    assert "PARKCARBON_GRAFANA_TOKEN or PARKCARBON_GRAFANA_PASSWORD" in str(refused.value)
    assert "PARKCARBON_GRAFANA_DB_PASSWORD" in str(refused.value)
    monkeypatch.setenv("PARKCARBON_GRAFANA_TOKEN", "glsa_x")
    monkeypatch.setenv("PARKCARBON_GRAFANA_DB_PASSWORD", "reader")
    assert load(GrafanaSettings).missing_secrets() == []
