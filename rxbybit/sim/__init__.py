"""``rxbybit.sim``: a local Bybit exchange on loopback, for tests, demos, notebooks and Binder.

Everything it serves is SIMULATED: a seeded market model, paper accounts and a matching engine,
spoken over Bybit's real websocket protocol so existing Bybit clients work unchanged except for
the URL::

    from rxbybit.sim import Simulator, DEMO_API_KEY, DEMO_API_SECRET

    async with Simulator(seed=0, symbols=("BTCUSDT", "ETHUSDT"), speed=10) as sim:
        url = sim.url + "/v5/public/linear"
        ...
        sim.faults.skip_delta("linear", "orderbook.50.BTCUSDT")

Run it standalone with ``rxbybit sim --port 8765``.
"""

from .accounts import DEMO_API_KEY, DEMO_API_SECRET, Account, OrderError
from .engine import Engine
from .faults import MALFORMED_FRAME, Faults
from .market import Market
from .replay import ReplayServer, load_recording
from .server import DEFAULT_SYMBOLS, Simulator

__all__ = [
    "DEFAULT_SYMBOLS",
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "MALFORMED_FRAME",
    "Account",
    "Engine",
    "Faults",
    "Market",
    "OrderError",
    "ReplayServer",
    "Simulator",
    "load_recording",
]
