"""The client layer: the ``Bybit`` facade over a connection pool, a topic router and a health
monitor; the WS trade API; the typed ``Stream``; and the script/notebook runtime helpers."""

from .bybit import Bybit
from .health import Health, TopicHealth
from .runtime import allow_nested, run, wait
from .stream import Provenance, Stream
from .trade import TradeClient

__all__ = ["Bybit", "Health", "Provenance", "Stream", "TopicHealth", "TradeClient", "allow_nested", "run", "wait"]
