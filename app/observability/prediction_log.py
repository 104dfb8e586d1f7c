"""Prediction logging for drift monitoring: JSON Lines append blobs, written off the request path.

Each sampled prediction request becomes one record (inputs, outputs, model, latency, ids).
The request path only appends to an in-memory buffer; a daemon thread writes the buffer
when it holds ``PREDICTION_LOG_MAX_RECORDS`` records or every
``PREDICTION_LOG_FLUSH_SECONDS``, whichever comes first. Records go to one append blob per
instance per UTC hour: ``<container>/YYYY/MM/DD/HH/<instance>.jsonl``.

The Functions shim does not reliably run lifespan shutdown, so what an instance can lose
when it is recycled is bounded by one flush interval (plus a best-effort flush at exit).
A failure to log never fails a prediction: it is logged, counted and the batch is
retried once on the next flush, then dropped.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.logging_setup import invocation_id_var, request_id_var
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_APPEND_BYTES = 4 * 1024 * 1024  # the append-block limit every service version accepts
ROWS_PER_LINE = 2000  # a bigger batch becomes several lines ("part" i of n) to stay under it
Counter = Callable[[str, int], None]


@dataclass(frozen=True)
class PendingRecord:
    """What the request path keeps: references only; serialization happens in the writer."""

    time: float
    request_id: str | None
    invocation_id: str | None
    route: str
    model: dict[str, Any]
    latency_ms: float
    frame: Any  # the model's input frame; turned into rows by the writer, not per request
    outputs: list[Any]

    def to_lines(self) -> list[bytes]:
        """One JSON line, or one per ``ROWS_PER_LINE`` rows for a large batch."""
        values = self.frame.to_numpy()
        columns = [str(c) for c in self.frame.columns]
        rows = len(self.outputs)
        parts = max(1, -(-rows // ROWS_PER_LINE))
        head = {"time": datetime.fromtimestamp(self.time, tz=UTC).isoformat(),
                "request_id": self.request_id, "invocation_id": self.invocation_id,
                "route": self.route, "model": self.model,
                "latency_ms": round(self.latency_ms, 3), "rows": rows}
        lines = []
        for part in range(parts):
            window = slice(part * ROWS_PER_LINE, (part + 1) * ROWS_PER_LINE)
            record = {**head, "inputs": {"columns": columns, "data": values[window].tolist()},
                      "outputs": self.outputs[window]}
            if parts > 1:
                record["part"] = [part + 1, parts]
            lines.append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY,
                                      default=str))
        return lines


def instance_name(settings: Settings) -> str:
    base = settings.instance_id or socket.gethostname()
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{base[:48]}-{os.getpid()}")


def blob_name(moment: float, instance: str) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y/%m/%d/%H/") + f"{instance}.jsonl"


class PredictionLogger:
    """A prediction observer that batches records and writes them from its own thread."""

    def __init__(self, settings: Settings, *, count: Counter | None = None) -> None:
        self.settings = settings
        self.instance = instance_name(settings)
        self._count = count or (lambda _outcome, _n: None)
        self._buffer: list[PendingRecord] = []
        self._retry: list[bytes] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._container: Any = None
        self._created: set[str] = set()
        self._random = random.Random()  # noqa: S311 - sampling, not security

    # --- request path -------------------------------------------------------------------
    def __call__(self, request: Any, result: Any) -> None:
        rate = self.settings.prediction_log_sample_rate
        if rate < 1.0 and self._random.random() >= rate:
            return
        frame = result.model_input.frame
        record = PendingRecord(
            time=time.time(), request_id=request_id_var.get(),
            invocation_id=invocation_id_var.get(), route=request.url.path,
            model=result.model.summary(), latency_ms=result.elapsed_ms,
            frame=frame,
            outputs=result.predictions)
        with self._lock:
            self._buffer.append(record)
            full = len(self._buffer) >= self.settings.prediction_log_max_records
        self._ensure_thread()
        if full:
            self._wake.set()

    # --- writer -------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="prediction-log",
                                                daemon=True)
                self._thread.start()
                atexit.register(self.close)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.prediction_log_flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the writer must outlive any bad record
                log.exception("prediction log flush failed")

    def flush(self) -> int:
        """Write everything buffered now; returns the number of records written."""
        with self._lock:
            batch, self._buffer = self._buffer, []
            retry, self._retry = self._retry, []
        if not batch and not retry:
            return 0
        lines = retry + self._serialize(batch)
        moment = batch[-1].time if batch else time.time()
        try:
            self._append(blob_name(moment, self.instance), lines)
        except Exception as exc:  # noqa: BLE001 - logging must never break serving
            log.warning("prediction log write failed (%d records): %s", len(lines),
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            if retry:  # this batch already had its second chance
                self._count("dropped", len(retry))
            with self._lock:
                self._retry = lines[len(retry):]
            return 0
        self._count("written", len(lines))
        return len(lines)

    def _serialize(self, batch: list[PendingRecord]) -> list[bytes]:
        lines: list[bytes] = []
        for record in batch:
            try:
                lines.extend(record.to_lines())
            except (TypeError, ValueError) as exc:
                log.warning("prediction log record not serializable: %s", exc)
                self._count("dropped", 1)
        return lines

    def _append(self, name: str, lines: list[bytes]) -> None:
        blob = self._container_client().get_blob_client(name)
        if name not in self._created:
            from azure.core.exceptions import ResourceExistsError

            # Exists when this instance restarted within the same hour: keep appending.
            with contextlib.suppress(ResourceExistsError):
                blob.create_append_blob(if_none_match="*")
            self._created = {name}
        for chunk in _chunks(lines, MAX_APPEND_BYTES):
            blob.append_block(chunk)

    def _container_client(self) -> Any:
        if self._container is None:
            from azure.core.exceptions import HttpResponseError

            from app.storage import container

            client = container(self.settings, self.settings.prediction_log_container,
                               timeout=max(self.settings.registry_timeout_seconds, 10.0))
            try:
                client.create_container()
            except HttpResponseError as exc:
                # Exists (409), or the identity may write blobs but not create containers
                # (403: Terraform created it). Either way, writing blobs is what matters.
                log.debug("prediction log container not created: %s", exc.status_code)
            self._container = client
        return self._container

    def close(self) -> None:
        """Stop the writer and flush what is buffered (best effort)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        try:
            self.flush()
        except Exception:
            log.warning("final prediction log flush failed", exc_info=True)


def _chunks(lines: list[bytes], limit: int) -> list[bytes]:
    """Newline-terminated lines packed into blocks of at most ``limit`` bytes."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        line_size = len(line) + 1
        if current and size + line_size > limit:
            chunks.append(b"\n".join(current) + b"\n")
            current, size = [], 0
        current.append(line)
        size += line_size
    if current:
        chunks.append(b"\n".join(current) + b"\n")
    return chunks
