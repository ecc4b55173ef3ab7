"""The client layer: the ``Bybit`` facade, health, and the script/notebook runtime helpers."""

from .bybit import Bybit
from .health import Health, TopicHealth
from .runtime import allow_nested, run, wait

__all__ = ["Bybit", "Health", "TopicHealth", "allow_nested", "run", "wait"]
