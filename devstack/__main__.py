"""`python -m devstack up`: the whole local stack on local defaults.

Starts a real MLflow server (SQLite, local artifacts) and Azurite under `.local/`, trains
and registers the sample model, promotes it to `champion` (which publishes the blob
fallback), writes `local.settings.json`, then serves the API on localhost: through
`func start` when Azure Functions Core Tools are installed, else uvicorn on the same app.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

from devstack.services import ROOT, AzuriteProcess, MLflowServer

STATE = ROOT / ".local"


def _signing_keys() -> tuple[str, str]:
    """The local stack's signing key pair (made once): the sample model is signed with the
    private key, the API trusts only the public one."""
    from app.signing.keys import generate

    folder = STATE / "signing"
    private, public = folder / "private.pem", folder / "public.pem"
    if not private.is_file() or not public.is_file():
        print(f"creating a local model-signing key pair in {folder} ...", flush=True)
        private, public = generate(folder)
    return str(private), str(public)


def _settings_values(mlflow: MLflowServer, azurite: AzuriteProcess, model_name: str) -> dict[str, str]:
    example = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    private, public = _signing_keys()
    values = {**example, "MLFLOW_TRACKING_URI": mlflow.url, "MODEL_NAME": model_name,
              "AzureWebJobsStorage": azurite.connection_string,
              "MODEL_STORAGE_CONNECTION_STRING": azurite.connection_string,
              "MODEL_SIGNING_KEY": private, "MODEL_SIGNING_PUBLIC_KEYS": public}
    return values


def _has_champion(env: dict[str, str], model_name: str) -> bool:
    from mlflow import MlflowClient

    try:
        MlflowClient(env["MLFLOW_TRACKING_URI"]).get_model_version_by_alias(model_name, "champion")
        return True
    except Exception:  # noqa: BLE001 - absent model or alias
        return False


def up(args: argparse.Namespace) -> int:
    mlflow = MLflowServer(STATE / "mlflow", port=args.mlflow_port)
    azurite = AzuriteProcess(STATE / "azurite", port=args.azurite_port)
    print(f"starting MLflow on {mlflow.url} and Azurite on port {azurite.port} ...", flush=True)
    mlflow.start()
    azurite.start()
    try:
        values = _settings_values(mlflow, azurite, args.model_name)
        env = {**os.environ, **values}
        (ROOT / "local.settings.json").write_text(
            json.dumps({"IsEncrypted": False, "Values": values}, indent=2))
        if args.retrain or not _has_champion(env, args.model_name):
            print("training and registering the sample model ...", flush=True)
            subprocess.run([sys.executable, "-m", "app", "train", "--alias", "champion",
                            "--min-metric", "r2>=0.3"], env=env, check=True, cwd=ROOT)
        print(f"\nMLflow UI: {mlflow.url}\nAPI: http://127.0.0.1:{args.port}  "
              f"(docs at /docs; try: curl -s -X POST http://127.0.0.1:{args.port}/predict "
              "-H 'content-type: application/json' -d @examples/predict.json)\n", flush=True)
        if shutil.which("func") and not args.uvicorn:
            command = ["func", "start", "--port", str(args.port)]
        else:
            command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1",
                       "--port", str(args.port)]
        return subprocess.run(command, env=env, cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        azurite.stop()
        mlflow.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="run MLflow + Azurite, train, and serve the API")
    start.add_argument("--port", type=int, default=8000)
    start.add_argument("--mlflow-port", type=int, default=5000)
    start.add_argument("--azurite-port", type=int, default=10000)
    start.add_argument("--model-name", default="diabetes-regressor")
    start.add_argument("--retrain", action="store_true", help="train a new version even if one exists")
    start.add_argument("--uvicorn", action="store_true", help="use uvicorn even if `func` exists")
    start.set_defaults(handler=up)
    args = parser.parse_args()
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
