"""`python -m devstack up | down | status`: the local stack (run through scripts/dev.sh).

`up` starts a real MLflow server (SQLite, local artifacts) and Azurite under `.local/`,
trains and registers the sample model and promotes it to `champion` (which publishes the
blob fallback) unless a champion exists, writes `local.settings.json`, then serves the API on
localhost: through `func start` when Azure Functions Core Tools are installed, else uvicorn
on the same app. Ctrl-C stops everything. It refuses busy ports and never reuses a service
it did not start; `down` stops what an earlier `up` started, even one that was killed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

import psutil

from devstack import ports, settings_file
from devstack.services import ROOT, AzuriteProcess, MLflowServer, wait_for_http
from devstack.shutdown import stop_services
from devstack.state import Service, StackState


def say(line: str) -> None:
    print(line, flush=True)


def _champion(tracking_uri: str, model_name: str) -> tuple[str, bool] | None:
    """The champion's version and whether it is signed, or None: one REST call (importing
    mlflow here cost ~1-3 s at exit)."""
    query = urllib.parse.urlencode({"name": model_name, "alias": "champion"})
    url = f"{tracking_uri}/api/2.0/mlflow/registered-models/alias?{query}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the local server
            version = json.loads(response.read())["model_version"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise RuntimeError(f"MLflow answered {exc.code} to {url}") from None
    signed = any(tag.get("key") == "serving.signature" for tag in version.get("tags") or [])
    return str(version["version"]), signed


def _signing_keys(state_dir: Path) -> tuple[str, str]:
    """The local stack's signing key pair (made once): the sample model is signed with the
    private key, the API trusts only the public one."""
    from app.signing.keys import generate

    folder = state_dir / "signing"
    private, public = folder / "private.pem", folder / "public.pem"
    if not private.is_file() or not public.is_file():
        say(f"==> creating a local model-signing key pair in {folder}")
        private, public = generate(folder)
    return str(private), str(public)


@contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP (terminal closed) all stop the stack."""

    def interrupt(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGINT too: a shell starts background commands with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler of its own.
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _refusals(state: StackState, wanted: dict[str, int]) -> list[str]:
    """Why `up` cannot start (empty: it can)."""
    running = [s for s in state.services() if s.running]
    if running:
        names = ", ".join(f"{s.name} (pid {s.pid}, {s.url})" for s in running)
        return [f"an earlier `up` still runs: {names}. Stop it with `scripts/dev.sh down`."]
    flags = {"API": "--port", "MLflow": "--mlflow-port", "Azurite": "--azurite-port"}
    problems = []
    if len(set(wanted.values())) < len(wanted):
        problems.append(f"the ports must differ: {wanted}")
    for name, port in wanted.items():
        holder = ports.owner(port)
        if holder is not None:
            problems.append(
                f"port {port} ({name}) is in use by {holder}: stop it, "
                f"or choose another port with {flags[name]}"
            )
    return problems


def up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    state = StackState(state_dir / "stack.json")
    wanted = {"API": args.port, "MLflow": args.mlflow_port, "Azurite": args.azurite_port}
    problems = _refusals(state, wanted)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    state.clear()

    mlflow = MLflowServer(state_dir / "mlflow", port=args.mlflow_port)
    azurite = AzuriteProcess(state_dir / "azurite", port=args.azurite_port)
    api: subprocess.Popen[bytes] | None = None
    started: list[Service] = []
    began = time.monotonic()
    with _interrupts_as_keyboard_interrupt():
        try:
            say(f"==> MLflow on {mlflow.url} (log: {mlflow.log_path})")
            mlflow.start()
            assert mlflow.proc is not None
            started.append(state.add("MLflow", mlflow.proc.pid, mlflow.port, mlflow.url))
            say(f"==> Azurite on port {azurite.port} (log: {azurite.log_path})")
            azurite.start()
            assert azurite.proc is not None
            started.append(state.add("Azurite", azurite.proc.pid, azurite.port, azurite.blob_endpoint))

            stack = {
                "MLFLOW_TRACKING_URI": mlflow.url,
                "AzureWebJobsStorage": azurite.connection_string,
                "MODEL_STORAGE_CONNECTION_STRING": azurite.connection_string,
            }
            if args.model_name:
                stack["MODEL_NAME"] = args.model_name
            if not os.environ.get("MODEL_SIGNING_KEY", "").strip():  # else: your own key
                stack["MODEL_SIGNING_KEY"], stack["MODEL_SIGNING_PUBLIC_KEYS"] = _signing_keys(state_dir)
            settings = settings_file.compose(
                ROOT / "local.settings.example.json", args.settings_file, os.environ, stack
            )
            settings_file.write(args.settings_file, settings)
            say(
                f"==> settings written to {args.settings_file}"
                + (
                    f"; from the environment: {', '.join(settings.from_environment)}"
                    if settings.from_environment
                    else ""
                )
            )
            env = {**os.environ, **settings.values, "LOCAL_SETTINGS_FILE": str(args.settings_file)}
            model_name = settings.values.get("MODEL_NAME", "diabetes-regressor")

            champion = _champion(mlflow.url, model_name)
            if args.retrain or champion is None:
                say(f"==> training, registering, signing and promoting {model_name} (champion) ...")
                subprocess.run(
                    [sys.executable, "-m", "app", "train", "--alias", "champion", "--min-metric", "r2>=0.3"],
                    env=env,
                    check=True,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                )
            elif not champion[1]:  # registered by a stack from before signatures
                say(f"==> signing {model_name} version {champion[0]} (champion) ...")
                subprocess.run(
                    [sys.executable, "-m", "app", "sign", "--version", champion[0]],
                    env=env,
                    check=True,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                )

            if shutil.which("func") and not args.uvicorn:
                command = ["func", "start", "--port", str(args.port)]
            else:
                command = [
                    sys.executable,
                    "-m",
                    "app",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(args.port),
                ]
            api_url = f"http://127.0.0.1:{args.port}"
            say(f"==> API on {api_url} ({'func start' if command[0] == 'func' else 'uvicorn'})")
            api = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
            started.append(state.add("API", api.pid, args.port, api_url))
            wait_for_http(f"{api_url}/health/live", 120, api)
            _banner(api_url, mlflow.url, settings.values, time.monotonic() - began)
            code = api.wait()
            say(f"the API exited with code {code}; stopping the stack")
            return code or 1
        except KeyboardInterrupt:
            say("\nstopping ...")
            return 0
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
            recorded = {s.pid for s in started}
            for name, service in (("MLflow", mlflow), ("Azurite", azurite)):
                if service.proc is not None and service.proc.pid not in recorded:  # interrupted start
                    with suppress(psutil.NoSuchProcess):
                        started.append(state.add(name, service.proc.pid, service.port, ""))
            stopping = time.monotonic()
            stop_services(list(reversed(started)), say)
            for proc in (api, azurite.proc, mlflow.proc):
                if proc is not None:
                    proc.poll()  # reap
            azurite.proc = mlflow.proc = None
            state.clear()
            say(f"stack stopped in {time.monotonic() - stopping:.1f} s")


def _banner(api_url: str, mlflow_url: str, values: dict[str, str], elapsed: float) -> None:
    admin = (
        "on (x-admin-key: ADMIN_API_KEY)"
        if values.get("ADMIN_API_KEY", "").strip()
        else "off (start with ADMIN_API_KEY=... scripts/dev.sh up)"
    )
    hooks = (
        "on"
        if values.get("MLFLOW_WEBHOOK_SECRET", "").strip()
        else "off (start with MLFLOW_WEBHOOK_SECRET=... scripts/dev.sh up)"
    )
    say(
        f"\nready in {elapsed:.0f} s\n"
        f"  API         {api_url}  (docs at /docs)\n"
        f"  MLflow UI   {mlflow_url}\n"
        f"  admin API   {admin}\n"
        f"  webhooks    {hooks}\n"
        f"  try         curl -s -X POST {api_url}/predict -H 'content-type: application/json' "
        "-d @examples/predict.json\n"
        f"  CLI         scripts/dev.sh app compare   (uses these settings)\n"
        "  stop        Ctrl-C, or scripts/dev.sh down from another shell\n"
    )


def down(args: argparse.Namespace) -> int:
    state = StackState(args.state_dir / "stack.json")
    services = state.services()
    if not any(s.running for s in services):
        say("nothing to stop: no stack started by `scripts/dev.sh up` is running")
        state.clear()
        return 0
    stop_services(list(reversed(services)), say)
    state.clear()
    return 0


def status(args: argparse.Namespace) -> int:
    services = StackState(args.state_dir / "stack.json").services()
    if not services:
        say("not running (scripts/dev.sh up starts the stack)")
        return 3
    for service in services:
        state = "running" if service.running else "stopped"
        say(f"{service.name:<8} {state:<8} pid {service.pid:<7} {service.url}")
    return 0 if all(s.running for s in services) else 3


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".local",
        help="where the services keep their data and `up` its process list",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", parents=[common], help="run MLflow + Azurite, train, and serve the API")
    start.add_argument("--port", type=int, default=8000, help="the API's port")
    start.add_argument("--mlflow-port", type=int, default=5000)
    start.add_argument("--azurite-port", type=int, default=10000)
    start.add_argument(
        "--model-name",
        default=None,
        help="registered model name (default: MODEL_NAME, else diabetes-regressor)",
    )
    start.add_argument("--settings-file", type=Path, default=ROOT / "local.settings.json")
    start.add_argument("--retrain", action="store_true", help="train a new version even if one exists")
    start.add_argument("--uvicorn", action="store_true", help="use uvicorn even if `func` exists")
    start.set_defaults(handler=up)
    sub.add_parser("down", parents=[common], help="stop what `up` started").set_defaults(handler=down)
    sub.add_parser("status", parents=[common], help="what `up` started and whether it runs").set_defaults(
        handler=status
    )
    args = parser.parse_args()
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
