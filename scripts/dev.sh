#!/usr/bin/env bash
# Project entry points. Each command installs what it needs first (idempotent).
#   scripts/dev.sh up      local MLflow + Azurite, sample model trained/registered, API on :8000
#   scripts/dev.sh test    the full test suite (what CI runs)
#   scripts/dev.sh bench   the quick benchmark against `mlflow models serve`
#   scripts/dev.sh lint    ruff
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

stamp() {
  local f
  for f in requirements.txt requirements-dev.txt package-lock.json infra/requirements-checkov.txt; do
    if [[ -f "$f" ]]; then sha256sum "$f"; fi
  done | sha256sum | cut -c1-16
}

bootstrap() {
  local want; want="$(stamp)"
  if [[ -f .venv/.bootstrap && "$(cat .venv/.bootstrap)" == "$want" ]]; then return; fi
  echo "==> installing Python dependencies into .venv"
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "==> installing Node tools (Azurite, HCL formatter)"
  npm ci --no-audit --no-fund --loglevel=error
  if [[ -f infra/requirements-checkov.txt ]]; then
    echo "==> installing checkov into .tools/checkov (kept apart: its pins clash with the app's)"
    [[ -x .tools/checkov/bin/python ]] || "$PY" -m venv .tools/checkov
    .tools/checkov/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
  fi
  echo "$want" > .venv/.bootstrap
}

cmd="${1:-help}"; shift || true
case "$cmd" in
  bootstrap) bootstrap ;;
  up) bootstrap; exec .venv/bin/python -m devstack up "$@" ;;
  test) bootstrap; exec .venv/bin/python -m pytest "$@" ;;
  bench) bootstrap; exec .venv/bin/python -m benchmarks --quick "$@" ;;
  lint) bootstrap; exec .venv/bin/ruff check . ;;
  *) sed -n '2,7p' "$0"; exit 2 ;;
esac
