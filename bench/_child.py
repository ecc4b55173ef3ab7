"""A benchmark's server in a child process: started, asked what it serves, stopped, always reaped."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any


@contextmanager
def serving(target: Callable[..., None], *args: Any, stop: Any = "stop") -> Iterator[tuple[Connection, Any]]:
    """Run ``target(pipe, *args)`` in a spawned child; yield our end of the pipe and the first
    thing the child sends (its URL). On leaving, ``stop`` is sent if the body finished, and the
    child is joined (killed after 5 s) whatever happened."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    try:
        yield parent, parent.recv()
        parent.send(stop)
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
