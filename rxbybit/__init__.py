"""rxbybit: Bybit WebSocket streams as RxPY observables, live frames and widgets.

    import rxbybit as rb
    bybit = rb.Bybit(network="sim")          # or "mainnet", "testnet", "demo", a base URL
    bybit.orderbook("BTCUSDT", depth=50)      # Observable[BookView]

Names are loaded lazily, so ``import rxbybit.protocol`` stays free of asyncio and sockets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Bybit": "rxbybit.client",
    "Health": "rxbybit.client",
    "Provenance": "rxbybit.client",
    "Stream": "rxbybit.client",
    "allow_nested": "rxbybit.client",
    "run": "rxbybit.client",
    "wait": "rxbybit.client",
    "dataset": "rxbybit.recordings",
    "DatasetWriter": "rxbybit.recordings",
    "Recorder": "rxbybit.playback",
    "Replay": "rxbybit.playback",
    "record": "rxbybit.playback",
    "replay": "rxbybit.playback",
}
_SUBMODULES = (
    "errors", "protocol", "display", "ops", "frames", "widgets", "sim", "client", "transport", "gateway",
    "recordings", "rest",
)

if TYPE_CHECKING:
    from . import display, errors, frames, ops, protocol, sim, widgets
    from .client import Bybit, Health, Provenance, Stream, allow_nested, run, wait
    from .playback import Recorder, Replay, record, replay
    from .recordings import DatasetWriter, dataset

__all__ = [
    "Bybit",
    "DatasetWriter",
    "Health",
    "Provenance",
    "Recorder",
    "Replay",
    "Stream",
    "__version__",
    "allow_nested",
    "dataset",
    "display",
    "errors",
    "frames",
    "ops",
    "protocol",
    "record",
    "replay",
    "run",
    "sim",
    "wait",
    "widgets",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"rxbybit.{name}")
    raise AttributeError(f"module 'rxbybit' has no attribute {name!r}")
