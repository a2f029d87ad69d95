# liqbot: one process, its SQLite file on the /data volume, /healthz and /metrics on $PORT.
#   docker build -t liqbot . && docker run -v liqbot-data:/data -e TELEGRAM_BOT_TOKEN=... liqbot
# The base image by digest, so a rebuild gets the same Python and Debian (python:3.11-slim, linux/amd64
# and arm64 index). This digest was read from public Dockerfiles that pin it, not checked against the
# registry from the build machine (it had no registry access); check it with
# `docker buildx imagetools inspect python:3.11-slim` and move it on purpose.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The dependencies in their own layer, read from pyproject.toml alone: a change to the code
# rebuilds only the layers below, not this one (minutes of wheels).
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY README.md LICENSE config.example.yaml ./
COPY bot ./bot
RUN pip install --no-deps . \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home liqbot \
    && mkdir -p /data \
    && chown liqbot:liqbot /data

# The state lives on the volume: subscriptions, alert states, the outbox, minute buckets.
# DATABASE_URL is the platform convention for "where the data is"; a platform that sets its own
# replaces this one. A config.yaml in /data is read when present (or point LIQBOT_CONFIG at one).
# liqbot_build_info's commit label: docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) .
ARG GIT_COMMIT=""
# the HTTP port binds every interface here only: in a container 127.0.0.1 is unreachable from outside
ENV DATABASE_URL=sqlite:////data/liqbot.sqlite3 \
    PORT=8080 \
    LIQBOT_HTTP__HOST=0.0.0.0 \
    GIT_COMMIT=$GIT_COMMIT
VOLUME /data
WORKDIR /data
USER liqbot
EXPOSE 8080

# 503 (or no answer) from /healthz marks the container unhealthy; python, as the slim image has no curl
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c 'import os, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/healthz" % os.environ.get("PORT", "8080"), timeout=4)'

CMD ["liqbot", "run"]
