# parcelscreen scoring service: `docker build -t parcelscreen .`, run as in docs/OPERATIONS.md.
# Stage 1 builds the project's wheel; stage 2 installs only that wheel and its runtime
# dependencies (no compilers, no test tools) and runs as a non-root user.
# tests/test_dockerfile.py performs the pip steps below in a fresh virtual environment.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY data_contracts ./data_contracts
COPY screening ./screening
COPY training ./training
COPY serving ./serving
COPY parcelscreen ./parcelscreen
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="parcelscreen" \
      org.opencontainers.image.description="Risk screening of postal parcels: scoring service" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 parcelscreen \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin \
        parcelscreen \
    && mkdir -p /data/registry /data/state /data/audit /data/cache \
    && chown -R parcelscreen:parcelscreen /data
# libsodium: ristretto255 for the exchange tokens (pysodium loads it at run time)
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libsodium23 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels

# Configuration: any PARCELSCREEN_* variable (docs/OPERATIONS.md lists them). Production
# refuses to start until PARCELSCREEN_SECRET_KEY and PARCELSCREEN_PSEUDONYMISATION_KEY are set.
ENV PARCELSCREEN_ENVIRONMENT=production \
    PARCELSCREEN_HOST=0.0.0.0 \
    PARCELSCREEN_PORT=8080 \
    PARCELSCREEN_REGISTRY=/data/registry \
    PARCELSCREEN_DATA_DIR=/data/state \
    NUMBA_CACHE_DIR=/data/cache \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# /data/registry: model registry (read); /data/state: the record database state.sqlite (API
# keys, accounts, results, outcomes, the decision log and the entity history: one SQLite
# file, so that a decision commits as one transaction).
VOLUME ["/data/registry", "/data/state"]
USER 10001:10001
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/v2/health/ready' % os.environ.get('PARCELSCREEN_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["parcelscreen"]
CMD ["serve"]
