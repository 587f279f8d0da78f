# syntax=docker/dockerfile:1
# One image for all of parkcarbon's services: `parkcarbon worker`, `parkcarbon api`,
# `parkcarbon-gateway`, `parkcarbon db migrate`, `parkcarbon topics create` and the simulators
# (docker-compose.yml says which service runs which). Build: `docker compose build`.
#
# Dependencies come from deploy/requirements.lock: every package pinned with its hashes and
# installed with --require-hashes, wheels only. docs/operations.md ("The image") says how to
# regenerate the lock after a change to pyproject.toml.

# Pinned to the patch release; pin the digest too where your registry policy asks for it
# (`docker buildx imagetools inspect python:3.11.17-slim-bookworm`).
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm

# --- build: a virtualenv with the locked dependencies and the project ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/parkcarbon
COPY deploy/requirements.lock /tmp/requirements.lock
RUN /opt/parkcarbon/bin/pip install --require-hashes --only-binary=:all: \
        -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY accounting ./accounting
COPY api ./api
COPY cli ./cli
COPY config ./config
COPY contracts ./contracts
COPY deploy ./deploy
COPY ingest ./ingest
COPY simulators ./simulators
COPY store ./store
COPY stream ./stream
# The project itself, without dependencies: they are all in the lock, installed above.
RUN /opt/parkcarbon/bin/pip install --no-deps . \
    && /opt/parkcarbon/bin/parkcarbon --help >/dev/null \
    && /opt/parkcarbon/bin/parkcarbon-gateway --help >/dev/null

# --- runtime: the virtualenv, tini, and an unprivileged user ------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 parkcarbon \
    && useradd --system --uid 10001 --gid parkcarbon --home-dir /var/lib/parkcarbon \
        --shell /usr/sbin/nologin parkcarbon \
    && install -d -o parkcarbon -g parkcarbon -m 0750 /var/lib/parkcarbon \
    && install -d -o root -g parkcarbon -m 0750 /etc/parkcarbon
COPY --from=build /opt/parkcarbon /opt/parkcarbon
ENV PATH=/opt/parkcarbon/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARKCARBON_STATE_DIR=/var/lib/parkcarbon
# State (a gateway's buffer, simulator registers) lives here; compose mounts a named volume.
WORKDIR /var/lib/parkcarbon
USER parkcarbon:parkcarbon
EXPOSE 8000
# tini forwards SIGTERM to the service and reaps children; each service's command is in
# docker-compose.yml. The default prints the commands.
ENTRYPOINT ["tini", "--"]
CMD ["parkcarbon", "--help"]
