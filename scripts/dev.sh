#!/usr/bin/env bash
# Project entry points. Each command installs what it needs first (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

usage() {
  cat <<'EOF'
usage: scripts/dev.sh <command> [args]

  up [--port 8000 --mlflow-port 5000 --azurite-port 10000 --retrain --uvicorn]
             local MLflow + Azurite, sample model trained/registered, API on :8000 (Ctrl-C stops all)
  down       stop what `up` started (also after `up` was killed)
  status     what `up` started, and whether it still runs
  app ARGS   the project CLI (`python -m app ARGS`) with the local stack's settings
  test ARGS  the test suite (what CI runs); ARGS go to pytest
  bench ARGS the quick benchmark against `mlflow models serve`
  lint       ruff check, ruff format --check, mypy (strict for app/)
  lock ARGS  re-resolve the locks (requirements*.lock) from requirements*.txt; `--upgrade` for newest
  bootstrap  install .venv (requirements-dev.lock), .tools/mlflow and node_modules
EOF
}

# The deployment target every lock is resolved for (Azure Functions, Linux x86_64, CPython 3.11).
LOCK_TARGET=(--python-platform x86_64-manylinux_2_28 --python-version 3.11 --generate-hashes)
LOCKS=(requirements.lock requirements-dev.lock requirements-mlflow-server.lock)

stamp() {  # a digest of the given files: a part is reinstalled only when its inputs change
  sha256sum "$@" | sha256sum | cut -c1-16
}

# uv (pinned with its hashes in requirements-dev.lock) installs and locks everything else.
ensure_uv() {
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  local want req; want="$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-dev.lock 2>/dev/null || true)"
  if [[ -x .venv/bin/uv && "$(.venv/bin/uv --version | cut -d' ' -f2)" == "${want:-any}" ]]; then return; fi
  if [[ -z "$want" ]]; then  # no lock yet: the range of requirements-dev.txt
    .venv/bin/python -m pip install --disable-pip-version-check "$(grep '^uv' requirements-dev.txt)"
    return
  fi
  echo "==> installing uv $want into .venv"
  req="$(mktemp)"
  awk '/^uv==/{on=1} on{print; if ($0 !~ /\\$/) exit}' requirements-dev.lock > "$req"
  .venv/bin/python -m pip install --disable-pip-version-check --no-deps --require-hashes -r "$req"
  rm -f "$req"
}

bootstrap() {
  local want; want="$(stamp "${LOCKS[@]}")"
  if [[ ! -f .venv/.bootstrap || "$(cat .venv/.bootstrap)" != "$want" ]]; then
    python_envs
    echo "$want" > .venv/.bootstrap
  fi
  want="$(stamp package.json package-lock.json)"
  if [[ ! -f node_modules/.bootstrap || "$(cat node_modules/.bootstrap)" != "$want" ]]; then
    echo "==> node_modules: Azurite and the HCL formatter"
    npm ci --no-audit --no-fund --loglevel=error  # npm 11 warns about engines otherwise
    echo "$want" > node_modules/.bootstrap
  fi
}

python_envs() {
  ensure_uv
  echo "==> .venv: exactly requirements-dev.lock (the runtime part is requirements.lock)"
  local again=()
  # A venv from before the locks holds the full `mlflow`, which shares files with
  # mlflow-skinny: removing it breaks skinny unless everything is reinstalled (~5 s).
  if .venv/bin/python -c 'import importlib.metadata as m; m.version("mlflow")' 2>/dev/null; then
    again=(--reinstall)
  fi
  .venv/bin/uv pip sync --python .venv/bin/python --require-hashes "${again[@]}" requirements-dev.lock
  echo "==> .tools/mlflow: the MLflow tracking server (kept apart: it pins pandas<3)"
  [[ -x .tools/mlflow/bin/python ]] || "$PY" -m venv .tools/mlflow
  .venv/bin/uv pip sync --python .tools/mlflow/bin/python --require-hashes requirements-mlflow-server.lock
}

# checkov only for the infra tests and CI (its pins clash with the app's: own venv).
ensure_checkov() {
  local want; want="$(stamp infra/requirements-checkov.txt)"
  if [[ -f .tools/checkov/.installed && "$(cat .tools/checkov/.installed)" == "$want" ]]; then return; fi
  echo "==> .tools/checkov: checkov for the infra tests"
  [[ -x .tools/checkov/bin/python ]] || "$PY" -m venv .tools/checkov
  .tools/checkov/bin/python -m pip install --disable-pip-version-check -r infra/requirements-checkov.txt
  echo "$want" > .tools/checkov/.installed
}

lock() {
  ensure_uv
  local common=("${LOCK_TARGET[@]}" --custom-compile-command "scripts/dev.sh lock" "$@")
  echo "==> requirements.lock (runtime, what the zip ships)"
  .venv/bin/uv pip compile "${common[@]}" requirements.txt -o requirements.lock >/dev/null
  echo "==> requirements-dev.lock (runtime pins from requirements.lock + dev tools)"
  .venv/bin/uv pip compile "${common[@]}" requirements-dev.txt -c requirements.lock \
    -o requirements-dev.lock >/dev/null
  echo "==> requirements-mlflow-server.lock (.tools/mlflow)"
  .venv/bin/uv pip compile "${common[@]}" requirements-mlflow-server.txt \
    -o requirements-mlflow-server.lock >/dev/null
}

stack() {  # down/status need no install: without .venv, `up` never ran here
  if [[ ! -x .venv/bin/python ]]; then
    echo "not running (no .venv: scripts/dev.sh up has never run here)"
    [[ "$1" == down ]] && exit 0 || exit 3
  fi
  exec .venv/bin/python -m devstack "$@"
}

cmd="${1:-help}"; shift || true
case "$cmd" in
  bootstrap) bootstrap ;;
  lock) lock "$@" ;;
  up) bootstrap; exec .venv/bin/python -m devstack up "$@" ;;
  down|status) stack "$cmd" "$@" ;;
  app) bootstrap; exec .venv/bin/python -m app "$@" ;;
  test) bootstrap; ensure_checkov; exec .venv/bin/python -m pytest "$@" ;;
  bench) bootstrap; exec .venv/bin/python -m benchmarks --quick "$@" ;;
  lint) bootstrap; .venv/bin/ruff check . && .venv/bin/ruff format --check . && exec .venv/bin/mypy ;;
  help|-h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
