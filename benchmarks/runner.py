"""One benchmark run: every path, on this machine, one after another (never concurrently)."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.services import services_of
from benchmarks import flavors, httpload, inproc, servers, stack, stats

PATH = "/invocations"  # both servers speak MLflow's scoring protocol here
BATCH_ROWS = 10_000
CLIENTS = 32
TOLERANCE = 1e-9
Log = Callable[[str], None]


@dataclass(frozen=True)
class Mode:
    name: str
    latency_requests: int
    warmup_requests: int
    batch_repeats: int
    concurrent_seconds: float
    cold_repeats: int
    mlflow_cold_repeats: int
    servers: bool = True


MODES = {
    "tiny": Mode("tiny", 30, 5, 2, 0.0, 1, 0, servers=False),
    "quick": Mode("quick", 300, 50, 5, 5.0, 5, 1),
    "full": Mode("full", 2000, 200, 20, 20.0, 5, 3),
}


def sample_rows(n: int, seed: int = 0) -> np.ndarray:
    """``n`` realistic rows: the diabetes data resampled with a little noise, 6 decimals."""
    from app.lifecycle.training import load_data

    base = load_data()[0].to_numpy()
    rng = np.random.default_rng(seed)
    rows = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.002, (n, base.shape[1]))
    return np.round(rows, 6)


def split_body(rows: np.ndarray) -> bytes:
    from app.lifecycle.training import FEATURES

    return orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": rows.tolist()}})


def frame_of(rows: np.ndarray) -> Any:
    import pandas as pd

    from app.lifecycle.training import FEATURES

    return pd.DataFrame(rows, columns=FEATURES)


def predictions_of(body: bytes) -> np.ndarray:
    return flavors.values(orjson.loads(body)["predictions"])


class Run:
    def __init__(self, mode: Mode, workdir: Path, log: Log = print, flavor: str = "sklearn") -> None:
        self.mode = mode
        self.workdir = workdir
        self.log = log
        self.flavor = flavors.check(flavor)
        self.results: dict[str, Any] = {
            key: {}
            for key in (
                "cold_start_s",
                "cold_start_samples_s",
                "latency_1row_p50_ms",
                "latency_1row_p99_ms",
                "latency_1row_mean_ms",
                "batch_10k_rows_per_s",
                "batch_10k_ms",
                "concurrent_32",
                "rss_mb",
                "rss_tree_mb",
                "predictions_match",
            )
        }
        self.one = sample_rows(1, seed=1)
        self.batch = sample_rows(BATCH_ROWS, seed=2)
        self.one_body, self.batch_body = split_body(self.one), split_body(self.batch)
        self.expected_one: np.ndarray | None = None
        self.expected_batch: np.ndarray | None = None

    # --- checks ------------------------------------------------------------------------
    def check(self, path: str, one: np.ndarray, batch: np.ndarray | None) -> None:
        assert self.expected_one is not None and self.expected_batch is not None
        diffs = (
            [float(np.max(np.abs(one - self.expected_one)))]
            if one.shape == self.expected_one.shape
            else [float("inf")]
        )
        if batch is not None:
            same = batch.shape == self.expected_batch.shape
            diffs.append(float(np.max(np.abs(batch - self.expected_batch))) if same else float("inf"))
        worst = max(diffs)
        self.results["predictions_match"][path] = {
            "match": worst <= TOLERANCE,
            "max_abs_diff": worst,
            "batch_checked": batch is not None,
        }
        if worst > TOLERANCE:
            self.log(f"!! {path}: predictions differ from raw_predict by {worst:g}")

    # --- paths -------------------------------------------------------------------------
    def raw_predict(self, model: Any) -> None:
        m = self.mode
        one_frame, batch_frame = frame_of(self.one), frame_of(self.batch)
        self.expected_one = np.asarray(model.predict(one_frame), dtype=float)
        self.expected_batch = np.asarray(model.predict(batch_frame), dtype=float)
        inproc.time_calls(lambda: model.predict(one_frame), m.warmup_requests)
        self._latency("raw_predict", inproc.time_calls(lambda: model.predict(one_frame), m.latency_requests))
        self._batch("raw_predict", inproc.time_calls(lambda: model.predict(batch_frame), m.batch_repeats))
        self.results["predictions_match"]["raw_predict"] = {
            "match": True,
            "max_abs_diff": 0.0,
            "batch_checked": True,
        }

    def project_shim(self, st: stack.Stack) -> None:
        m = self.mode
        # In-process access logs would flood this terminal (the shim's root-logger calls
        # give the root logger a console handler); the HTTP servers log at INFO to files.
        shim = inproc.ShimInvoker(st.settings().model_copy(update={"log_level": "WARNING"}))
        try:
            status, body = shim.post(PATH, self.one_body)  # runs the lifespan: loads the model
            if status != 200:
                raise RuntimeError(f"project_shim answered {status}: {body[:300]!r}")
            for _ in range(m.warmup_requests):
                shim.post(PATH, self.one_body)
            self._latency(
                "project_shim", inproc.time_calls(lambda: shim.post(PATH, self.one_body), m.latency_requests)
            )
            batch_status, batch_body = shim.post(PATH, self.batch_body)
            assert batch_status == 200, batch_body[:300]
            self._batch(
                "project_shim", inproc.time_calls(lambda: shim.post(PATH, self.batch_body), m.batch_repeats)
            )
            self.check("project_shim", predictions_of(body), predictions_of(batch_body))
            source = shim.model.source if shim.model else None
            self.results["meta"]["project_model_source"] = source
            self.prediction_logging(st, shim)
        finally:
            shim.close()

    def prediction_logging(self, st: stack.Stack, plain: inproc.ShimInvoker) -> None:
        """1-row latency with prediction logging on (to Azurite) against off, interleaved."""
        settings = st.settings().model_copy(
            update={
                "log_level": "WARNING",
                "prediction_log_enabled": True,
                "prediction_log_flush_seconds": 1.0,
                "prediction_log_container": "benchmark-prediction-logs",
            }
        )
        logging_shim = inproc.ShimInvoker(settings)
        try:
            status, body = logging_shim.post(PATH, self.one_body)
            if status != 200:
                raise RuntimeError(f"project_shim with logging answered {status}: {body[:300]!r}")
            off: list[float] = []
            on: list[float] = []
            rounds = max(self.mode.latency_requests // 50, 1)
            for _ in range(rounds):  # alternate blocks so drift in machine load hits both
                off += inproc.time_calls(lambda: plain.post(PATH, self.one_body), 50)
                on += inproc.time_calls(lambda: logging_shim.post(PATH, self.one_body), 50)
            off_p50, on_p50 = stats.latency_ms(off)["p50"], stats.latency_ms(on)["p50"]
            self.results["prediction_logging"] = {
                "p50_off_ms": off_p50,
                "p50_on_ms": on_p50,
                "ratio": round(on_p50 / off_p50, 3) if off_p50 else None,
            }
            self.log(f"   prediction logging: p50 {off_p50:.3f} ms off, {on_p50:.3f} ms on")
        finally:
            # flush while Azurite runs
            services_of(logging_shim.app.middleware._app).prediction_logger.close()
            logging_shim.close()

    def http_servers(self, project: servers.Server, mlflow: servers.Server) -> None:
        """Latency, batch, concurrency and memory of both servers, measured in alternating
        blocks while both run (an idle server takes no CPU), so a change in machine speed
        during the run hits both sides of each ratio. Also mlflow_serve's cold starts
        (the project's come from :meth:`cold_starts`)."""
        m = self.mode
        paths = {"project_http": project, "mlflow_serve": mlflow}
        try:
            samples = []
            for attempt in range(max(m.mlflow_cold_repeats, 1)):
                if attempt:
                    mlflow.stop()
                samples.append(mlflow.launch(self.one_body))
                self.log(f"   mlflow_serve: first prediction {samples[-1]:.2f}s after launch")
            self.results["cold_start_samples_s"]["mlflow_serve"] = [round(v, 3) for v in samples]
            self.results["cold_start_s"]["mlflow_serve"] = round(stats.median(samples), 3)
            project.launch(self.one_body)

            one = {key: self._raw(server.port, self.one_body) for key, server in paths.items()}
            batch = {key: self._raw(server.port, self.batch_body) for key, server in paths.items()}
            for key, server in paths.items():  # warm-up, not measured
                asyncio.run(httpload.timed_requests(server.port, one[key], m.warmup_requests))
                asyncio.run(httpload.timed_requests(server.port, batch[key], 1))

            rounds = 5
            latency: dict[str, list[float]] = {key: [] for key in paths}
            batch_times: dict[str, list[float]] = {key: [] for key in paths}
            last: dict[str, httpload.Response] = {}
            load = {key: httpload.LoadResult() for key in paths}
            for round_no in range(rounds):
                for key, server in paths.items():
                    times, last[key] = asyncio.run(
                        httpload.timed_requests(server.port, one[key], max(m.latency_requests // rounds, 1))
                    )
                    latency[key] += times
                for key, server in paths.items():
                    repeats = max(m.batch_repeats // rounds, 1)
                    times, batch_last = asyncio.run(httpload.timed_requests(server.port, batch[key], repeats))
                    batch_times[key] += times
                    if round_no == 0:
                        self.check(key, predictions_of(last[key].body), predictions_of(batch_last.body))
                for key, server in paths.items():
                    block = asyncio.run(
                        httpload.concurrent_load(
                            server.port, one[key], CLIENTS, m.concurrent_seconds / rounds
                        )
                    )
                    total = load[key]
                    total.ok += block.ok
                    total.errors += block.errors
                    total.duration_s += block.duration_s
                    total.error_samples += block.error_samples[: 5 - len(total.error_samples)]
            for key, server in paths.items():
                self._latency(key, latency[key])
                self._batch(key, batch_times[key])
                self.results["concurrent_32"][key] = {
                    "rps": round(load[key].rps, 1),
                    "errors": load[key].errors,
                    "ok": load[key].ok,
                    "duration_s": round(load[key].duration_s, 2),
                    "error_samples": load[key].error_samples,
                }
                rss_key = "project" if key == "project_http" else key
                rss = server.rss_mb()
                self.results["rss_mb"][rss_key] = rss["serving"]
                self.results["rss_tree_mb"][rss_key] = rss["tree"]
        finally:
            project.stop()
            mlflow.stop()

    # --- helpers -----------------------------------------------------------------------
    @staticmethod
    def _raw(port: int, body: bytes) -> bytes:
        return httpload.request_bytes(port, PATH, body)

    def _latency(self, key: str, seconds: list[float]) -> None:
        summary = stats.latency_ms(seconds)
        self.results["latency_1row_p50_ms"][key] = summary["p50"]
        self.results["latency_1row_p99_ms"][key] = summary["p99"]
        self.results["latency_1row_mean_ms"][key] = summary["mean"]

    def _batch(self, key: str, seconds: list[float]) -> None:
        typical = stats.median(seconds)
        self.results["batch_10k_ms"][key] = round(typical * 1000, 3)
        self.results["batch_10k_rows_per_s"][key] = round(BATCH_ROWS / typical, 1)

    # --- the whole run -----------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        m = self.mode
        self.results["meta"] = meta(m)
        started = time.perf_counter()
        self.results["meta"]["project_bytecode"] = compile_project()
        self.results["meta"]["flavor"] = self.flavor
        self.log("== starting MLflow server and Azurite")
        st = stack.start(self.workdir / "services", self.flavor)
        try:
            self.log(f"== making, registering and promoting the sample {self.flavor} model")
            stack.publish_model(st, self.flavor)
            model_file = stack.download_model_file(st, self.workdir / "model")
            self.results["meta"]["model"] = {
                "name": st.name,
                "version": st.version,
                "uri": st.model_uri,
                "file": model_file.name,
                "file_bytes": model_file.stat().st_size,
            }
            self.log(f"== raw_predict ({model_file.name} loaded independently by its library)")
            raw_model = flavors.RawModel(self.flavor, model_file, list(st.trusted_types))
            self.results["meta"]["model"]["class"] = raw_model.class_name
            self.raw_predict(raw_model)
            self.log("== project_shim (in process, azure.functions.HttpRequest)")
            self.project_shim(st)
            env = servers.clean_env(st.settings_env())
            project = servers.project_server(st.settings_env(), self.workdir / "logs") if m.servers else None
            self.cold_starts(model_file, list(st.trusted_types), env, project)
            if project is not None:
                self.log(
                    "== project_http (python -m app serve, uvicorn, 1 worker) and "
                    "mlflow_serve (mlflow models serve --env-manager local, 1 worker), "
                    "alternating blocks"
                )
                self.http_servers(
                    project, servers.mlflow_server(st.model_uri, st.mlflow.url, self.workdir / "logs")
                )
        finally:
            st.stop()
        matches = self.results["predictions_match"]
        self.results["all_predictions_match"] = all(v["match"] for v in matches.values())
        self.results["targets"] = stats.evaluate_targets(self.results) if m.servers else []
        self.results["meta"]["wall_seconds"] = round(time.perf_counter() - started, 1)
        self.results["meta"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
        return self.results

    def cold_starts(
        self, model_file: Path, trusted: list[str], env: dict[str, str], project: servers.Server | None
    ) -> None:
        """Fresh-process starts, one of each path per round, so a change in machine speed
        during the run hits the floor and the project alike instead of skewing their ratio.

        floor: python, import, the library's own load, predict one row; project_shim: import
        function_app and invoke it; project (HTTP): ``python -m app serve`` to the first 200.
        """
        from app.lifecycle.training import FEATURES

        row = dict(zip(FEATURES, self.one[0].tolist(), strict=True))
        self.log("== cold starts, interleaved: floor, project_shim, project_http per round")
        samples: dict[str, list[float]] = {"floor": [], "project_shim": [], "project": []}
        for round_no in range(1, self.mode.cold_repeats + 1):
            seconds, value = inproc.floor_cold_start(model_file, trusted, row, env, self.flavor)
            samples["floor"].append(seconds)
            self.check("floor", np.asarray([value]), None)
            # The Functions host always sets FUNCTIONS_WORKER_RUNTIME (the app preloads).
            seconds, value = inproc.shim_cold_start(
                self.one_body, {**env, "FUNCTIONS_WORKER_RUNTIME": "python"}
            )
            samples["project_shim"].append(seconds)
            self.check("project_shim_cold", np.asarray([value]), None)
            if project is not None:
                try:
                    samples["project"].append(project.launch(self.one_body))
                finally:
                    project.stop()
            self.log(
                f"   round {round_no}: "
                + ", ".join(f"{key} {values[-1]:.2f}s" for key, values in samples.items() if values)
            )
        for key, values in samples.items():
            if values:
                self.results["cold_start_samples_s"][key] = [round(v, 3) for v in values]
                self.results["cold_start_s"][key] = round(stats.median(values), 3)


def compile_project() -> bool:
    """Write the project's own pycs, as the deployment zip ships them.

    The libraries (and mlflow) come precompiled from site-packages; under
    PYTHONDONTWRITEBYTECODE, which some machines set, every launch would otherwise recompile
    ``app/`` (~0.4 s here) and measure something no deployment does.
    """
    import compileall

    from devstack.services import ROOT

    return bool(
        compileall.compile_dir(ROOT / "app", quiet=1)
        and compileall.compile_file(ROOT / "function_app.py", quiet=1)
    )


def meta(mode: Mode) -> dict[str, Any]:
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode.name,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(mem_gb, 1) if mem_gb else None,
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "payload": f"POST {PATH} dataframe_split",
        "batch_rows": BATCH_ROWS,
        "clients": CLIENTS,
        "concurrent_seconds": mode.concurrent_seconds,
        "latency_requests": mode.latency_requests,
        "tolerance": TOLERANCE,
        # other work on the machine skews every number: check it is near 0 before a run
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }


def run(
    mode_name: str, workdir: Path | None = None, log: Log = print, flavor: str = "sklearn"
) -> dict[str, Any]:
    mode = MODES[mode_name]
    if workdir is not None:
        return Run(mode, workdir, log, flavor).execute()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        return Run(mode, Path(tmp), log, flavor).execute()
