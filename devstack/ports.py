"""Who holds a local TCP port."""

from __future__ import annotations

import errno
import socket
from contextlib import closing

import psutil


def describe(pid: int | None) -> str:
    """``pid 123 (python -m mlflow server ...)``, shortened; or why it cannot be named."""
    if pid is None:
        return "a process this user cannot see"
    try:
        command = " ".join(" ".join(psutil.Process(pid).cmdline()).split()) or psutil.Process(pid).name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return f"pid {pid}"
    return f"pid {pid} ({command[:120]}{'...' if len(command) > 120 else ''})"


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def owner(port: int) -> str | None:
    """Who listens on ``port`` (None when the port is free)."""
    if is_free(port):
        return None
    pids = {
        conn.pid
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
    }
    if not pids:
        return "a process this user cannot see"
    return ", ".join(describe(pid) for pid in sorted(pids, key=lambda pid: pid or 0))
