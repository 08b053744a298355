# syntax=docker/dockerfile:1
# Sandbox: a two-stage image. Stage one fetches the pinned front-end files from the npm
# registry; stage two is the Python app, run as a non-root user. Migrations are applied by
# the app at start.

FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY scripts/vendor_assets.py scripts/
RUN mkdir -p sandbox/web/static \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null \
 && python3 scripts/vendor_assets.py

FROM python:3.11-slim-bookworm
# Without SANDBOX_DATABASE_URL the data lives in the volume, not in /app (owned by root).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SANDBOX_HOST=0.0.0.0 \
    SANDBOX_PORT=8000 \
    SANDBOX_VAR_DIR=/data \
    SANDBOX_DATABASE_URL=sqlite:////data/sandbox.db
RUN useradd --create-home --uid 10001 sandbox && mkdir /data && chown sandbox /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sandbox sandbox
COPY scenario_packs scenario_packs
COPY lexicon lexicon
COPY knowledge knowledge
COPY question_banks question_banks
# Editable, so the bundled packs, articles and banks stay beside the package where the app looks.
RUN pip install --no-cache-dir -e .
COPY --from=assets /build/sandbox/web/static/vendor sandbox/web/static/vendor
USER sandbox
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["sandbox", "serve"]
