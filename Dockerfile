# syntax=docker/dockerfile:1
# Build stage: wheels for the app and its dependencies, compiled where needed.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: only the wheels, the migrations, and a non-root user.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VAULT_ENV=production \
    VAULT_DATABASE_URL=sqlite+aiosqlite:////data/vault.db \
    VAULT_MIGRATE_ON_START=false
RUN useradd --create-home --uid 10001 vault \
    && mkdir /data \
    && chown vault /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /srv
COPY alembic.ini ./
COPY migrations ./migrations
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# One worker on the SQLite default (SQLite serves one process; app.serve refuses more): with
# VAULT_DATABASE_URL on PostgreSQL, set VAULT_WORKERS for more.
# Behind a load balancer, run with -e FORWARDED_ALLOW_IPS=<its addresses or networks> so the
# sellers' pages see (and rate-limit) each browser's address, not the balancer's.
# Migrate first only when asked: with several replicas, run `alembic upgrade head` once instead.
CMD ["sh", "-c", "if [ \"$VAULT_MIGRATE_ON_START\" = true ]; then alembic upgrade head; fi; exec python -m app.serve --host 0.0.0.0 --port 8000 --workers ${VAULT_WORKERS:-1}"]
