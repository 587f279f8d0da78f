# The two commands of the README: `make up` runs the platform, `make test` runs the tests.
# Both install what is missing first (deploy/bootstrap.sh).
PC := .venv/bin/parkcarbon

.PHONY: bootstrap up test lint stack-start stack-stop stack-status bench

bootstrap:
	@bash deploy/bootstrap.sh

up: bootstrap
	$(PC) up

stack-start: bootstrap
	$(PC) stack start
	$(PC) db migrate
	$(PC) topics create

# The storage, rollup, query and Grafana-SQL tests and the worker's end-to-end EMS-push and
# history-import tests run a second time in TimescaleDB mode when its source archive is beside
# the project (`stack start` builds it once into .parkcarbon/ and preloads it). The development
# database stays plain PostgreSQL.
TIMESCALEDB_SOURCE ?= $(firstword $(wildcard ../shared/vendor/timescaledb-*.tar.gz))
TSDB_ENV := $(if $(TIMESCALEDB_SOURCE),PARKCARBON_TIMESCALEDB_SOURCE=$(abspath $(TIMESCALEDB_SOURCE)))
TIMESCALEDB_TESTS := tests/store tests/deploy/test_grafana_sql.py tests/api/test_query_views.py \
	tests/api/test_ems_end_to_end.py tests/api/test_history_import.py

test:
	@$(TSDB_ENV) bash deploy/bootstrap.sh
	$(TSDB_ENV) $(PC) stack start
	PARKCARBON_STORAGE_MODE=postgresql $(PC) db migrate
	$(PC) topics create
	.venv/bin/pytest
ifneq ($(TIMESCALEDB_SOURCE),)
	.venv/bin/pytest --storage-mode=timescaledb -m "not disruptive" $(TIMESCALEDB_TESTS)
endif

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

stack-stop:
	$(PC) stack stop

stack-status:
	$(PC) stack status
