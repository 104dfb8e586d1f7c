"""What `up` started, on disk, so `down` and `status` work even after `up` was killed.

Each service runs in its own process group (session); the file records the group leader's
pid and start time, so a recycled pid is never mistaken for ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Service:
    name: str
    pid: int
    started: float  # psutil create_time of the group leader
    port: int
    url: str

    def members(self) -> list[psutil.Process]:
        """Live processes of this service's group (leader and children), never a stranger."""
        found = []
        for proc in psutil.process_iter(["create_time", "status"]):
            try:
                if (
                    proc.info["status"] != psutil.STATUS_ZOMBIE
                    and os.getpgid(proc.pid) == self.pid
                    and proc.info["create_time"] >= self.started - 1
                ):
                    found.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    @property
    def running(self) -> bool:
        return bool(self.members())


class StackState:
    def __init__(self, path: Path) -> None:
        self.path = path

    def services(self) -> list[Service]:
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))["services"]
            return [Service(**entry) for entry in entries]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def add(self, name: str, pid: int, port: int, url: str) -> Service:
        service = Service(name, pid, psutil.Process(pid).create_time(), port, url)
        self._write([*self.services(), service])
        return service

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, services: list[Service]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"services": [asdict(s) for s in services]}, indent=2))
        partial.replace(self.path)
