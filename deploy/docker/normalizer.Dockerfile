# syntax=docker/dockerfile:1
# Parley normalizer: parley-normalizer, one of Parley's per-service images.
#   docker build -f deploy/docker/normalizer.Dockerfile -t parley-normalizer .   (from the repository root)
#
# The builder installs this package and its workspace libraries alone from uv.lock
# (--frozen, --no-dev, as wheels: no source tree at run time); the runtime stage gets
# only the virtual environment. It runs as uid 10001 on a read-only root filesystem:
# the one writable place is /tmp (HOME, TMPDIR, the XDG dirs and, for the Faust
# workers, PARLEY_DATA_DIR point there), a declared volume: mount a tmpfs or an
# emptyDir on /tmp.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
# The project's uv, the version the Makefile installs (UV_VERSION).
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
# uv reads the whole workspace's metadata; the dependencies come first, in a layer of
# their own that stays cached until uv.lock or a pyproject.toml changes.
COPY pyproject.toml uv.lock ./
COPY libs/schemas/pyproject.toml libs/schemas/
COPY libs/platform/pyproject.toml libs/platform/
COPY libs/store/pyproject.toml libs/store/
COPY libs/connectors/pyproject.toml libs/connectors/
COPY services/ingest/pyproject.toml services/ingest/
COPY services/normalizer/pyproject.toml services/normalizer/
COPY services/responder/pyproject.toml services/responder/
COPY services/invoicer/pyproject.toml services/invoicer/
COPY services/gateway/pyproject.toml services/gateway/
COPY sandbox/pyproject.toml sandbox/
COPY cli/pyproject.toml cli/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace --package parley-normalizer
# parley-normalizer and the workspace libraries it imports, nothing else.
COPY libs/schemas libs/schemas
COPY libs/platform libs/platform
COPY libs/store libs/store
COPY libs/connectors libs/connectors
COPY services/normalizer services/normalizer
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package parley-normalizer

FROM python:3.11-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="parley-normalizer" \
      org.opencontainers.image.description="Faust worker building the unified discussions from raw snapshots (web: /health, /ready, /metrics on 6066)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="Parley" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
RUN groupadd --system --gid 10001 parley \
 && useradd --system --uid 10001 --gid 10001 --no-log-init --no-create-home \
      --home-dir /tmp --shell /usr/sbin/nologin parley
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    XDG_DATA_HOME=/tmp/.local/share \
    NORMALIZER_WEB_BIND=0.0.0.0 \
    NORMALIZER_WEB_PORT=6066 \
    PARLEY_DATA_DIR=/tmp/parley
USER 10001:10001
VOLUME ["/tmp"]
EXPOSE 6066
# Liveness: the process answers (readiness, which needs Kafka and MongoDB too, is
# /ready where the service has one: the orchestrator's probe, not this).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['NORMALIZER_WEB_PORT'] + '/health', timeout=4)"]
CMD ["python", "-m", "parley_normalizer"]
