"""What the manager reports: load attempts, registry reachability, the fallback, counters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.model_loading.types import LoadAttempt


@dataclass
class ManagerStats:
    loads: int = 0
    load_failures: int = 0
    swaps: int = 0
    refreshes: int = 0
    refresh_failures: int = 0
    fallback_loads: int = 0
    last_refresh_error: str | None = None


@dataclass
class FallbackState:
    """Which version the blob fallback holds, as last read from its pointer."""

    version: str | None = None
    checked_at: float | None = None
    error: str | None = None


@dataclass
class ManagerState:
    attempts: list[LoadAttempt] = field(default_factory=list)
    registry_reachable: bool | None = None
    registry_checked_at: float | None = None
    unavailable_reason: str = "the model is loading"
    stats: ManagerStats = field(default_factory=ManagerStats)
    fallback: FallbackState = field(default_factory=FallbackState)

    def mark_registry(self, reachable: bool) -> None:
        self.registry_reachable = reachable
        self.registry_checked_at = time.time()
