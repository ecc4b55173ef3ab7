"""The embedded simulator: one local exchange per process, shared by every ``network="sim"`` client.

A market order placed by one client moves the book and prints a public trade that every other
client of the process sees, because they all talk to the same :class:`~.server.Simulator`.
It starts with the first client that needs it and stops when the last one releases it. A server
belongs to an event loop, so "one per process" means one per running loop (a notebook has one).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from .server import Simulator

__all__ = ["Simulator", "acquire", "release"]


@dataclass
class _Shared:
    sim: Simulator | None
    options: dict[str, Any]
    users: int
    lock: asyncio.Lock


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()


def _options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {"host": "127.0.0.1"}
    merged.update(options or {})
    return merged


async def acquire(options: Mapping[str, Any] | None = None) -> Simulator:
    """The process's simulator, started on first use; pair every call with :func:`release`.

    ``options`` are :class:`Simulator` arguments. While the simulator runs, a caller asking for
    other options gets a :class:`~rxbybit.errors.ConfigurationError` (a ``ValueError``): two clients
    of one process always share one market.
    """
    loop = asyncio.get_running_loop()
    wanted = _options(options)
    entry = _shared.get(loop)
    if entry is None:
        entry = _shared[loop] = _Shared(None, wanted, 0, asyncio.Lock())
    async with entry.lock:
        if entry.sim is not None and options is not None and wanted != entry.options:
            raise ConfigurationError(
                f"this process's simulator already runs with {entry.options!r}; a client cannot ask for "
                f"{wanted!r} while it runs (every network='sim' client shares one market). Close the other "
                "clients first, or start a separate rxbybit.sim.Simulator and pass its url as the network"
            )
        if entry.sim is None:
            entry.options = wanted
            sim = Simulator(**wanted)
            await sim.start()
            entry.sim = sim
        entry.users += 1
        return entry.sim


async def release(sim: Simulator) -> None:
    """One user of ``sim`` is done; the last one stops it."""
    for entry in list(_shared.values()):
        if entry.sim is sim:
            async with entry.lock:
                entry.users -= 1
                if entry.users > 0:
                    return
                entry.sim = None
                await sim.stop()
            return

