# papers-bot in a container: the Procfile's `python -m bot`, as a non-root user, with the SQLite
# database in the /data volume. Build: docker build -t papers-bot .   (see README, "Container")
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project from the repository's own files (.dockerignore keeps .env, databases and tests out).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin papers \
    && mkdir /data \
    && chown papers:papers /data

USER papers
# The working directory is the volume: a relative DATABASE_URL lands there too, and no .env from
# the image is ever read (settings come from the environment: docker run --env-file .env).
WORKDIR /data
ENV DATABASE_URL=sqlite:////data/papers.db
VOLUME ["/data"]

# Healthy when /healthz answers 200 (gateway connected, database answering); with METRICS_PORT
# unset there is nothing to ask, and the check passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('METRICS_PORT'); port and urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

CMD ["python", "-m", "bot"]
