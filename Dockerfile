# liqbot: one process, its SQLite file on the /data volume, /healthz and /metrics on $PORT.
#   docker build -t liqbot . && docker run -v liqbot-data:/data -e TELEGRAM_BOT_TOKEN=... liqbot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE config.example.yaml ./
COPY bot ./bot
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home liqbot \
    && mkdir -p /data \
    && chown liqbot:liqbot /data

# The state lives on the volume: subscriptions, alert states, the outbox, minute buckets.
# DATABASE_URL is the platform convention for "where the data is"; a platform that sets its own
# replaces this one. A config.yaml in /data is read when present (or point LIQBOT_CONFIG at one).
# liqbot_build_info's commit label: docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) .
ARG GIT_COMMIT=""
ENV DATABASE_URL=sqlite:////data/liqbot.sqlite3 \
    PORT=8080 \
    GIT_COMMIT=$GIT_COMMIT
VOLUME /data
WORKDIR /data
USER liqbot
EXPOSE 8080

# 503 (or no answer) from /healthz marks the container unhealthy; python, as the slim image has no curl
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c 'import os, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/healthz" % os.environ.get("PORT", "8080"), timeout=4)'

CMD ["liqbot", "run"]
