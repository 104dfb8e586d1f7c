"""Prediction logging for drift monitoring: JSON Lines append blobs, written off the request path.

Each sampled prediction request becomes one record (inputs, outputs, model, latency, ids).
The request path only appends the record to an in-memory buffer; a daemon thread turns
records into JSON lines and writes them when the buffer holds
``PREDICTION_LOG_MAX_RECORDS`` records, holds half of ``PREDICTION_LOG_MAX_BUFFER_BYTES``,
has just had to drop a record, or every ``PREDICTION_LOG_FLUSH_SECONDS``, whichever comes
first. Records go to one
append blob per instance per UTC hour: ``<container>/YYYY/MM/DD/HH/<instance>.jsonl``.

Memory is bounded in bytes, not records: everything the logger holds (records waiting to
be serialized, at an upper estimate of their size; serialized lines; lines
being written or kept for a retry) counts against ``PREDICTION_LOG_MAX_BUFFER_BYTES``. A record that does
not fit is dropped whole and counted (``prediction_log_records_total{outcome="overflow"}``)
with one warning per flush interval. Large records are serialized as soon as they arrive,
so request frames are not kept alive until the next flush, and a flush writes block by
block, releasing each block's lines as it is written.

The Functions shim does not reliably run lifespan shutdown, so what an instance can lose
when it is recycled is bounded by one flush interval (plus a best-effort flush at exit).
A failure to log never fails a prediction: it is logged, counted and the lines are
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
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.logging_setup import invocation_id_var, request_id_var
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_APPEND_BYTES = 4 * 1024 * 1024  # the append-block limit every service version accepts
ROWS_PER_LINE = 2000  # a bigger batch becomes several lines ("part" i of n) to stay under it
EAGER_SERIALIZE_BYTES = 1024 * 1024  # records waiting beyond this are serialized at once
# Flat per-value rates for a record not yet serialized (see PendingRecord.held_bytes).
NUMERIC_VALUE_BYTES = 24
OBJECT_VALUE_BYTES = 64
OUTPUT_VALUE_BYTES = 32
RECORD_OVERHEAD_BYTES = 512
SMALL_FRAME_VALUES = 10_000  # below this every value is charged the object rate
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

    def held_bytes(self) -> int:
        """What the record counts for until it is serialized, cheap enough for the request
        path: an upper estimate of both the memory it keeps alive (frame, outputs) and the
        JSON it becomes (a float64 is at most 24 characters; a string is charged more)."""
        rows: int
        columns: int
        rows, columns = self.frame.shape
        if rows * columns <= SMALL_FRAME_VALUES:  # reading dtypes costs ~70 us: not worth it
            per_row = columns * OBJECT_VALUE_BYTES
        else:
            per_row = sum(
                NUMERIC_VALUE_BYTES if dtype.kind in "biufc" else OBJECT_VALUE_BYTES
                for dtype in self.frame.dtypes
            )
        return RECORD_OVERHEAD_BYTES + rows * per_row + len(self.outputs) * OUTPUT_VALUE_BYTES

    def to_lines(self) -> list[bytes]:
        """One JSON line, or one per ``ROWS_PER_LINE`` rows for a large batch."""
        columns = [str(c) for c in self.frame.columns]
        rows = len(self.outputs)
        parts = max(1, -(-rows // ROWS_PER_LINE))
        head = {
            "time": datetime.fromtimestamp(self.time, tz=UTC).isoformat(),
            "request_id": self.request_id,
            "invocation_id": self.invocation_id,
            "route": self.route,
            "model": self.model,
            "latency_ms": round(self.latency_ms, 3),
            "rows": rows,
        }
        lines = []
        for part in range(parts):
            window = slice(part * ROWS_PER_LINE, (part + 1) * ROWS_PER_LINE)
            data = self.frame.iloc[window].to_numpy().tolist()  # one window at a time
            record = {**head, "inputs": {"columns": columns, "data": data}, "outputs": self.outputs[window]}
            if parts > 1:
                record["part"] = [part + 1, parts]
            lines.append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY, default=str))
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
        self.max_bytes = settings.prediction_log_max_buffer_bytes
        self._count = count or (lambda _outcome, _n: None)
        self._pending: deque[tuple[PendingRecord, int]] = deque()  # (record, estimate)
        self._pending_bytes = 0
        self._lines: deque[bytes] = deque()  # serialized, not yet written
        self._retry: deque[bytes] = deque()  # failed once; dropped if they fail again
        self._held = 0  # every byte above, plus lines being written right now
        self._records = 0  # records buffered (pending or serialized) since the last flush
        self._overflow = 0  # records dropped for lack of room since the last report
        self._last_time = 0.0
        self._lock = threading.Lock()
        # Serializing and writing happen under this: an explicit flush (close, tests) waits
        # for the writer thread's record in progress and then writes it too.
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._container: Any = None
        self._created: set[str] = set()
        self._random = random.Random()  # noqa: S311 - sampling, not security

    @property
    def buffered_bytes(self) -> int:
        """Bytes held now (estimates for records not yet serialized)."""
        return self._held

    # --- request path -------------------------------------------------------------------
    def __call__(self, request: Any, result: Any) -> None:
        rate = self.settings.prediction_log_sample_rate
        if rate < 1.0 and self._random.random() >= rate:
            return
        record = PendingRecord(
            time=time.time(),
            request_id=request_id_var.get(),
            invocation_id=invocation_id_var.get(),
            route=request.url.path,
            model=result.model.summary(),
            latency_ms=result.elapsed_ms,
            frame=result.model_input.frame,
            outputs=result.predictions,
        )
        estimate = record.held_bytes()
        with self._lock:
            full = self._held + estimate > self.max_bytes
            if full:  # dropped; the writer writes what is held now to make room
                self._drop_overflow(1)
            else:
                self._pending.append((record, estimate))
                self._pending_bytes += estimate
                self._held += estimate
                self._records += 1
            wake = (
                full
                or self._records >= self.settings.prediction_log_max_records
                or self._pending_bytes >= EAGER_SERIALIZE_BYTES
                or self._held >= self.max_bytes // 2
            )
        del record
        self._ensure_thread()
        if wake:
            self._wake.set()

    def _drop_overflow(self, records: int) -> None:
        """Count records that did not fit; warn once per flush interval. Holds ``_lock``."""
        if self._overflow == 0:
            log.warning(
                "prediction log buffer full (%d bytes held, limit %d): dropping records until the next write",
                self._held,
                self.max_bytes,
            )
        self._overflow += records
        self._count("overflow", records)

    # --- writer -------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
                self._thread.start()
                atexit.register(self.close)

    def _run(self) -> None:
        deadline = time.monotonic() + self.settings.prediction_log_flush_seconds
        while not self._stop.is_set():
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            try:
                self.serialize_pending()
                with self._lock:
                    due = (
                        time.monotonic() >= deadline
                        or self._overflow > 0
                        or self._records >= self.settings.prediction_log_max_records
                        or self._held >= self.max_bytes // 2
                    )
                if due and not self._stop.is_set():
                    self.flush()
                    deadline = time.monotonic() + self.settings.prediction_log_flush_seconds
            except Exception:  # the writer must outlive any bad record
                log.exception("prediction log flush failed")

    def serialize_pending(self) -> None:
        """Turn waiting records into lines, one record at a time, releasing their frames."""
        with self._flush_lock:
            self._serialize_pending()

    def _serialize_pending(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                record, estimate = self._pending.popleft()
                self._pending_bytes -= estimate
            try:
                lines = record.to_lines()
            except (TypeError, ValueError) as exc:
                log.warning("prediction log record not serializable: %s", type(exc).__name__)
                lines = None
            size = sum(len(line) + 1 for line in lines) if lines else 0
            with self._lock:
                self._held -= estimate
                self._last_time = max(self._last_time, record.time)
                if lines is None:
                    self._records -= 1
                    self._count("dropped", 1)
                elif self._held + size > self.max_bytes:  # the estimate was too low
                    self._records -= 1
                    self._drop_overflow(1)
                else:
                    self._lines.extend(lines)
                    self._held += size
            del record, lines  # the frame goes now, not at the next flush

    def flush(self) -> int:
        """Write everything buffered now; returns the number of lines written."""
        with self._flush_lock:
            self.serialize_pending()
            with self._lock:
                retry, self._retry = self._retry, deque()
                fresh, self._lines = self._lines, deque()
                moment = self._last_time or time.time()
                self._records = 0
                overflow, self._overflow = self._overflow, 0
            if overflow:
                log.warning(
                    "prediction log dropped %d records since the last write (buffer limit %d bytes)",
                    overflow,
                    self.max_bytes,
                )
            if not retry and not fresh:
                return 0
            name = blob_name(moment, self.instance)
            written, ok = self._write(name, retry, retried=True)
            if ok:
                written += self._write(name, fresh, retried=False)[0]
            else:  # the store is still failing: the new lines wait for the next flush
                with self._lock:
                    self._retry.extend(fresh)
            if written:
                self._count("written", written)
            return written

    def _write(self, name: str, lines: deque[bytes], *, retried: bool) -> tuple[int, bool]:
        """Append ``lines`` block by block; a failed block and what follows it are dropped
        (lines already retried once) or kept for one retry. Returns (lines written, ok)."""
        written = 0
        for block_lines, block in _blocks(lines, MAX_APPEND_BYTES):
            try:
                self._append(name, block)
            except Exception as exc:  # noqa: BLE001 - logging must never break serving
                unwritten = len(block_lines) + len(lines)
                log.warning(
                    "prediction log write failed (%d lines): %s",
                    unwritten,
                    f"{type(exc).__name__}: {_first_line(exc)}",
                )
                if retried:
                    dropped = len(block) + sum(len(line) + 1 for line in lines)
                    self._count("dropped", unwritten)
                    with self._lock:
                        self._held -= dropped
                else:
                    block_lines.extend(lines)
                    with self._lock:
                        self._retry = block_lines + self._retry
                lines.clear()
                return written, False
            written += len(block_lines)
            with self._lock:
                self._held -= len(block)
        return written, True

    def _append(self, name: str, chunk: bytes) -> None:
        blob = self._container_client().get_blob_client(name)
        if name not in self._created:
            from azure.core.exceptions import ResourceExistsError

            # Exists when this instance restarted within the same hour: keep appending.
            with contextlib.suppress(ResourceExistsError):
                blob.create_append_blob(if_none_match="*")
            self._created = {name}
        blob.append_block(chunk)

    def _container_client(self) -> Any:
        if self._container is None:
            from azure.core.exceptions import HttpResponseError

            from app.storage import container

            client = container(
                self.settings,
                self.settings.prediction_log_container,
                timeout=max(self.settings.registry_timeout_seconds, 10.0),
            )
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


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else ""


def _blocks(lines: deque[bytes], limit: int) -> Iterator[tuple[deque[bytes], bytes]]:
    """(lines, block) pairs: newline-terminated lines, at most ``limit`` bytes per block.

    Lines are popped from ``lines`` as they go into a block, so a written block's lines
    are released at once; on failure the caller has the block's lines and the rest."""
    current: deque[bytes] = deque()
    size = 0
    while lines:
        line = lines[0]
        if current and size + len(line) + 1 > limit:
            yield current, b"\n".join(current) + b"\n"
            current, size = deque(), 0
        current.append(lines.popleft())
        size += len(line) + 1
    if current:
        yield current, b"\n".join(current) + b"\n"
