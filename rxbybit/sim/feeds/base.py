"""What every public feed is: one publisher per subscribed topic, shared by every connection that subscribed it."""

from __future__ import annotations

from typing import Protocol

from ...protocol.endpoints import Endpoint


class Sink(Protocol):
    """Where a feed's frames go: one client connection."""

    def send_text(self, text: str) -> None:
        """Queue one text frame for this connection."""


class UnknownTopic(ValueError):
    """The topic does not exist on this socket (Bybit: ``handler not found``)."""


class Feed:
    """Base publisher: subscribers, cadence and the frames of one topic."""

    period_ms: int = 100
    order: int = 5
    """Feeds of a cycle run in this order: trades (0) before books (1) before tickers (2)."""

    def __init__(self, topic: str, endpoint: Endpoint) -> None:
        self.topic = topic
        self.endpoint = endpoint
        self.subscribers: set[Sink] = set()
        self.next_due = 0.0

    @property
    def active(self) -> bool:
        """True while at least one connection subscribes the topic."""
        return bool(self.subscribers)

    def activate(self, now_ms: int) -> None:
        """Called when the first subscriber arrives."""

    def on_subscribe(self, now_ms: int) -> list[str]:
        """Frames a new subscriber gets first (after the ack)."""
        return []

    def tick(self, now_ms: int) -> list[str]:
        """Frames for every subscriber at this cadence point (may be empty)."""
        return []
