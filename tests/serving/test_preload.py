"""Under the Functions host the model starts loading at import, before any invocation."""

from __future__ import annotations

import time
from typing import Any

import function_app


def test_preload_loads_the_model_without_an_invocation(
    settings_factory: Any, champion: dict[str, Any]
) -> None:
    functions_app = function_app.build(settings_factory(), preload=True)
    manager = functions_app.middleware._app.state.services.manager
    try:
        deadline = time.monotonic() + 30
        while manager.current is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manager.current is not None and manager.current.version == champion["version"]
    finally:
        manager.close()


def test_no_preload_outside_the_functions_host(settings_factory: Any) -> None:
    functions_app = function_app.build(settings_factory())
    manager = functions_app.middleware._app.state.services.manager
    time.sleep(0.2)
    assert manager.current is None and manager.stats.loads == 0
