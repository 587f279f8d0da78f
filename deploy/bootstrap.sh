#!/usr/bin/env bash
# Installs what parkcarbon needs on a fresh Debian/Ubuntu machine, and nothing twice:
# a Python virtualenv with the project, a Java 17+ runtime and Maven (to fetch and run the Kafka
# broker), a PostgreSQL server, libmodbus + mbpoll for the Modbus interoperability tests, and
# socat for the serial (Modbus RTU) tests; Mosquitto for the MQTT tests.
# System packages need root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0

apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "bootstrap: please install $* with your package manager" >&2; exit 1
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "bootstrap: Python 3.11+ is needed (found $("$PY" --version))" >&2; exit 1; }

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  apt_install openjdk-17-jre-headless
fi
command -v mvn >/dev/null || apt_install maven

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  # The project runs its own server in .parkcarbon/; Debian's default cluster would take 5432.
  $SUDO mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  apt_install postgresql
fi

# libmodbus (a Modbus server the project did not write; tests/ingest compiles a small server on
# it) with a C compiler and pkg-config, and mbpoll, an independent client to cross-check reads.
command -v cc >/dev/null || apt_install gcc libc6-dev
command -v pkg-config >/dev/null || apt_install pkg-config
pkg-config --exists libmodbus 2>/dev/null || apt_install libmodbus-dev libmodbus5
command -v mbpoll >/dev/null || apt_install mbpoll
# socat: pseudo-terminal pairs stand in for RS-485 ports in the Modbus RTU and DL/T 645 tests
# and bench.rtu.
command -v socat >/dev/null || apt_install socat
# unshare (util-linux): the gateway buffer's full-disk test mounts a small tmpfs in a private
# user namespace. Part of every Debian system; minimal images may lack it.
command -v unshare >/dev/null || apt_install util-linux

# Mosquitto, the MQTT broker the MQTT ingest tests start on a free loopback port with their own
# config (tests/ingest/mosquitto.py). Debian's package enables a system service on 1883; the
# project never uses it, so it is stopped and disabled at once.
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto
  if command -v systemctl >/dev/null; then
    $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null; then
    $SUDO service mosquitto stop >/dev/null 2>&1 || true
    $SUDO update-rc.d mosquitto disable >/dev/null 2>&1 || true
  fi
fi

# Debian's Chromium (and a font, so screenshots show text) for the live page's browser test:
# Playwright drives /usr/bin/chromium; it never downloads a browser of its own.
[ -x /usr/bin/chromium ] || apt_install chromium fonts-liberation
# A Simplified Chinese font, so the zh-CN page and reports show characters, not empty boxes.
[ -d /usr/share/fonts/opentype/noto ] || apt_install fonts-noto-cjk

if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
stamp=.venv/.parkcarbon-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  mkdir -p .parkcarbon
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[platform,dev]'; } \
      > .parkcarbon/pip-install.log 2>&1; then
    tail -30 .parkcarbon/pip-install.log >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi

# TimescaleDB from a source archive (PARKCARBON_TIMESCALEDB_SOURCE, as `make test` sets it when
# the archive is beside the project): the server's development files and cmake to build it.
if [ -n "${PARKCARBON_TIMESCALEDB_SOURCE:-}" ]; then
  pgmajor=$(ls /usr/lib/postgresql | sort -n | tail -1)
  # The server's headers (postgres.h), not pgxs/: Debian's server package ships part of pgxs.
  [ -f "/usr/include/postgresql/$pgmajor/server/postgres.h" ] \
    || apt_install "postgresql-server-dev-$pgmajor"
  command -v cmake >/dev/null || apt_install cmake
fi

# compose-check: the Compose specification's own Go loader (compose-go), built once into
# .parkcarbon/ (modules from the Go module proxy), so tests/deploy/test_compose.py validates
# docker-compose.yml as `docker compose config` would without Docker on the machine.
if command -v go >/dev/null; then
  src=$(cat deploy/compose-check/go.mod deploy/compose-check/go.sum deploy/compose-check/main.go \
    | sha256sum | cut -d' ' -f1)
  if [ ! -x .parkcarbon/compose-check ] || [ "$(cat .parkcarbon/compose-check.sha256 2>/dev/null)" != "$src" ]; then
    mkdir -p .parkcarbon
    if (cd deploy/compose-check && go build -o ../../.parkcarbon/compose-check .) \
        > .parkcarbon/compose-check-build.log 2>&1; then
      echo "$src" > .parkcarbon/compose-check.sha256
    else
      echo "bootstrap: building deploy/compose-check failed (.parkcarbon/compose-check-build.log)" >&2
    fi
  fi
fi

# node-opcua: a second, independent OPC UA implementation the gateway tests run against.
if command -v npm >/dev/null && [ ! -d tests/ingest/node_opcua/node_modules/node-opcua ]; then
  (cd tests/ingest/node_opcua && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
    || echo "bootstrap: npm ci in tests/ingest/node_opcua failed; its test will be skipped" >&2
fi
