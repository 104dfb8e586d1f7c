"""Webhook replay protection: delivery ids already acted on, bounded."""

from __future__ import annotations

import threading
from collections import OrderedDict


class SeenDeliveries:
    """Delivery ids already acted on (bounded), so a replayed delivery does nothing."""

    def __init__(self, size: int = 2048) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, delivery_id: str) -> bool:
        with self._lock:
            if delivery_id in self._ids:
                return False
            self._ids[delivery_id] = None
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True
