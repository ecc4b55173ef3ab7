"""The client layer: the ``Bybit`` facade, health, and the script/notebook runtime helpers."""

from .bybit import Bybit
from .health import Health, TopicHealth
from .runtime import allow_nested, run, wait
from .stream import Provenance, Stream

__all__ = ["Bybit", "Health", "Provenance", "Stream", "TopicHealth", "allow_nested", "run", "wait"]
