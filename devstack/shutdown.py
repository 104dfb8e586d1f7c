"""Stop service process groups together, quickly, with one line per service."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress

import psutil

from devstack.state import Service

#: SIGTERM first; whatever still runs after this many seconds gets SIGKILL.
GRACE_SECONDS = 2.0


def stop_services(
    services: list[Service], say: Callable[[str], None] = print, grace: float = GRACE_SECONDS
) -> None:
    """SIGTERM every service's group at once, SIGKILL what is left after ``grace`` seconds."""
    started = time.monotonic()
    pending: dict[str, tuple[Service, list[psutil.Process]]] = {}
    for service in services:
        members = service.members()
        if not members:
            say(f"{service.name}: was not running")
            continue
        _signal_group(service.pid, members, signal.SIGTERM)
        pending[service.name] = (service, members)
    while pending:
        for name, (service, members) in list(pending.items()):
            if not any(_alive(proc) for proc in members):
                say(f"stopped {name} (pid {service.pid}) in {time.monotonic() - started:.1f} s")
                del pending[name]
        if not pending:
            break
        if time.monotonic() - started > grace:
            for name, (service, members) in pending.items():
                _signal_group(service.pid, members, signal.SIGKILL)
                psutil.wait_procs(members, timeout=1)
                say(f"killed {name} (pid {service.pid}): still running after {grace:.1f} s")
            break
        time.sleep(0.05)


def _signal_group(pgid: int, members: list[psutil.Process], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
        os.killpg(pgid, sig)
    for proc in members:  # members that left the group (none do today) get it directly
        with suppress(psutil.Error):
            proc.send_signal(sig)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
