"""Connection health: what ``Bybit.health`` emits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ConnectionState = Literal["idle", "connecting", "connected", "reconnecting", "closed"]


@dataclass(frozen=True, slots=True)
class TopicHealth:
    """Per-topic counters."""

    topic: str
    msgs_per_s: float
    last_message_age_s: float | None
    messages: int
    resyncs: int = 0
    subscribed: bool = False
    """True once Bybit has acknowledged the subscription on the current socket."""


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot of the client's connections, emitted about once a second and on every change.

    ``simulated`` is True when the data comes from the local simulator, so views can label it.
    """

    network: str
    simulated: bool
    state: ConnectionState
    connections: Mapping[str, ConnectionState]
    msgs_per_s: float
    last_message_age_s: float | None
    reconnects: int
    resyncs: int
    topics: Mapping[str, TopicHealth] = field(default_factory=dict)
    last_error: str | None = None
