"""Helpers for tests that start real servers in subprocesses: a free port, and waiting until up."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path, seconds: float = 120) -> None:  # type: ignore[type-arg]
    """Poll ``url`` until it answers 200; fail with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} not up after {seconds:.0f} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)


def stop(process: subprocess.Popen, timeout: float = 20) -> None:  # type: ignore[type-arg]
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_in_thread(app: object, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """An ASGI app served by uvicorn on 127.0.0.1:``port`` in a daemon thread, once it is up."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, name="kb-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server thread died while starting"
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.05)
    return server, thread
