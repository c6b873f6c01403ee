#!/usr/bin/env bash
# Run every check and test: lint, migrations, deploy checks, the suite on SQLite, then the
# suite again on real PostgreSQL + Redis with the integration tests that start a Celery worker
# and the end-to-end tests in Chromium. Services started here are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PYTHONDONTWRITEBYTECODE=1
# A skipped test is a failure here: nothing may silently not run.
export FAIL_ON_SKIP=1

bash scripts/services.sh install

echo "== ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .

echo "== mypy"
"$BIN/mypy" marketplace experts projects payments

echo "== migrations are up to date"
"$BIN/python" manage.py makemigrations --check --dry-run

echo "== check --deploy with production settings"
env DEBUG=0 SECRET_KEY="$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    ALLOWED_HOSTS=marketplace.example DATABASE_URL=sqlite:////tmp/deploy-check.sqlite3 \
    STRIPE_SECRET_KEY=sk_live_deploy_check STRIPE_WEBHOOK_SECRET=whsec_deploy_check \
    "$BIN/python" manage.py check --deploy --fail-level WARNING

SERVICES_DIR="$(mktemp -d)"
cleanup() { bash scripts/services.sh stop "$SERVICES_DIR" || true; rm -rf "$SERVICES_DIR"; }
trap cleanup EXIT
bash scripts/services.sh start "$SERVICES_DIR"

echo "== pytest on SQLite (embedded defaults)"
env -u DATABASE_URL -u REDIS_URL "$BIN/pytest" -m "not postgres and not celery" -p no:cacheprovider

echo "== pytest on PostgreSQL + Redis, with a real Celery worker and Chromium"
set -a
# shellcheck disable=SC1091
. "$SERVICES_DIR/env"
set +a
"$BIN/pytest" -p no:cacheprovider
