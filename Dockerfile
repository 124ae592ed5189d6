# shipyard's container image: one image, three roles (see deploy/docker/entrypoint.sh and docs/deploy.md).
#
#   docker build -t shipyard:0.1.0 .
#   docker run -p 8080:8080 -e SHIPYARD_REGISTRY_URL=... -e SHIPYARD_ARTIFACTS_URL=s3://... \
#       shipyard:0.1.0 serve fraud@production
#
# The builder stage has the compilers (for any pinned package without a wheel for this platform); the
# runtime stage gets only the finished virtual environment, so no build tool ships in the image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

# Versions float within the base image's Debian release: its security updates are what we want here, and
# an exact pin would stop resolving at the next one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/shipyard

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# Every dependency at the version constraints.txt pins, as CI tests it: the same resolution everywhere.
# Behind a proxy that re-signs TLS, hand pip its CA bundle as a build secret (never stored in a layer):
#   docker build --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt .
RUN --mount=type=secret,id=pip-ca \
    if [ -f /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/shipyard/bin/pip install --no-cache-dir -c constraints.txt '.[postgres,s3]'


FROM ${PYTHON_IMAGE} AS runtime

# A fixed uid/gid, so a volume's ownership (and Kubernetes' runAsUser/fsGroup) can name them.
RUN groupadd --system --gid 10001 shipyard \
    && useradd --system --uid 10001 --gid shipyard --home-dir /var/lib/shipyard --create-home \
        --shell /usr/sbin/nologin shipyard

COPY --from=builder /opt/shipyard /opt/shipyard
COPY deploy/docker/entrypoint.sh /usr/local/bin/shipyard-entrypoint
COPY deploy/docker/healthcheck.py /usr/local/lib/shipyard/healthcheck.py

# The workspace: shipyard.toml (gates, alerts, rollouts, retraining) and, on a laptop, the SQLite database
# and artifacts. With PostgreSQL and S3 (SHIPYARD_REGISTRY_URL, SHIPYARD_ARTIFACTS_URL, SHIPYARD_LOG_URL)
# nothing that must outlive the container is written here.
ENV PATH=/opt/shipyard/bin:$PATH \
    SHIPYARD_HOME=/var/lib/shipyard \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/shipyard
USER 10001:10001

# 8080: shipyard serve (inference); 5000: shipyard server (the control plane).
EXPOSE 8080 5000

# Probes whichever role runs as process 1: serve's /health/ready, server's /health, the scheduler's life.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "/usr/local/lib/shipyard/healthcheck.py"]

ENTRYPOINT ["shipyard-entrypoint"]
CMD ["--help"]
