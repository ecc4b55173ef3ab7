"""A real ``redis-server`` (Debian's package) on 127.0.0.1 with a free port, for the gateway bus tests
and benches: started, waited for (bounded), and always stopped."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

RUNNING: dict[int, subprocess.Popen[bytes]] = {}
"""Servers started here, by port (a test that crashes one kills it by this handle)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server(timeout: float = 10.0, port: int | None = None) -> Iterator[str]:
    """Run a throwaway redis-server on loopback (on ``port``, or a free one); yields its ``redis://`` URL."""
    if not shutil.which(REDIS_SERVER):
        raise RuntimeError(f"{REDIS_SERVER} is missing: install Debian's redis-server (make test does)")
    with tempfile.TemporaryDirectory() as workdir:
        port = port or free_port()
        proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir, "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + timeout
            while True:  # bounded: wait until it accepts connections
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}: "
                                       f"{(proc.stderr.read() if proc.stderr else b'').decode()[:500]}")
                time.sleep(0.02)  # a bounded start-up poll, not synchronisation between tasks
            RUNNING[port] = proc
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            if RUNNING.get(port) is proc:
                del RUNNING[port]
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
