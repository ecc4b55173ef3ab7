"""The typed stream: an ``Observable`` that knows where its data comes from.

Every stream the client hands out is a :class:`Stream`. Its :attr:`~Stream.provenance` says
whether the values are live exchange data, the local simulator's, or a replayed recording, and
``stream.pipe(...)`` keeps it through any reactivex operator (``map``, ``filter``,
``combine_latest`` ...), so a frame or widget built at the end of a pipeline can label simulated
data as such without being told.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from reactivex import Observable, abc

T_co = TypeVar("T_co", covariant=True)


class Provenance(Enum):
    """Where a stream's data comes from."""

    LIVE = "live"
    """The real exchange (mainnet, testnet or demo)."""
    SIMULATED = "simulated"
    """The local exchange simulator: not the market's prices."""
    REPLAY = "replay"
    """A recording played back."""

    @property
    def label(self) -> str:
        """What views show: ``LIVE``, ``SIMULATED`` or ``REPLAY``."""
        return self.name

    @property
    def simulated(self) -> bool:
        """True for anything that is not the live market (views flag it)."""
        return self is not Provenance.LIVE


ProvenanceSource = Provenance | Callable[[], Provenance]
"""A provenance, or a function that tells it when asked (a client learns that a URL is a
simulator only once its handshake answered: its streams ask the client each time)."""


class Stream(Observable[T_co]):
    """An observable with a :class:`Provenance` that survives ``pipe``.

    Build one from a subscribe function (like ``reactivex.create``) or wrap any observable with
    :meth:`wrap`. ``pipe`` returns a ``Stream`` of the same provenance whenever the operators
    produce an observable; anything else (a ``LiveFrame`` from ``ops.to_frame()``) is returned as is.
    """

    holds: object | None = None
    """What this stream keeps alive while anyone holds it: a client's streams hold their client, so a
    client dropped by the user closes only when none of its streams is held either."""

    def __init__(
        self,
        subscribe: Callable[[abc.ObserverBase[Any], abc.SchedulerBase | None], abc.DisposableBase] | None = None,
        provenance: ProvenanceSource = Provenance.LIVE,
    ) -> None:
        super().__init__(subscribe)
        self._origin = provenance

    @property
    def provenance(self) -> Provenance:
        """Where the values come from (asked afresh each time when the stream was given a function)."""
        origin = self._origin
        return origin if isinstance(origin, Provenance) else origin()

    @property
    def origin(self) -> ProvenanceSource:
        """What this stream was given: a provenance or the function that tells it (derived streams share it)."""
        return self._origin

    @classmethod
    def wrap(cls, source: Observable[Any], provenance: ProvenanceSource) -> Stream[Any]:
        """``source`` as a ``Stream`` with ``provenance`` (no extra hop per value)."""
        if isinstance(source, Stream) and source._origin is provenance:
            return source
        core = source._subscribe_core  # the wrapped source's own subscribe, called directly
        return cls(core, provenance)

    @property
    def simulated(self) -> bool:
        """True when the values are not the live market's (simulated or replayed)."""
        return self.provenance.simulated

    def pipe(self, *operators: Callable[[Any], Any]) -> Any:
        """Compose ``operators`` left to right, keeping this stream's provenance at every step.

        Each operator sees a ``Stream``, so one that reads the label (``ops.to_frame()``) gets it
        even after plain reactivex operators in the same ``pipe`` call.
        """
        result: Any = self
        for operator in operators:
            result = operator(result)
            if isinstance(result, Observable) and not isinstance(result, Stream):
                result = Stream.wrap(result, self._origin)
        return result

    def __repr__(self) -> str:
        return f"<Stream {self.provenance.label}>"


def provenance_of(source: object, default: Provenance = Provenance.LIVE) -> Provenance:
    """The provenance of ``source`` if it is a :class:`Stream`, else ``default``."""
    return source.provenance if isinstance(source, Stream) else default


def origin_of(source: object, default: Provenance = Provenance.LIVE) -> ProvenanceSource:
    """What tells the provenance of ``source`` (for a stream derived from it), else ``default``."""
    return source.origin if isinstance(source, Stream) else default


def combined(*sources: object) -> ProvenanceSource:
    """The provenance of values made from several sources: REPLAY if any is replayed, else
    SIMULATED if any is simulated, else LIVE (asked afresh each time)."""
    origins = [origin_of(s) for s in sources]
    if all(isinstance(o, Provenance) for o in origins):
        return strongest([o for o in origins if isinstance(o, Provenance)])
    return lambda: strongest([o if isinstance(o, Provenance) else o() for o in origins])


def strongest(found: list[Provenance]) -> Provenance:
    """REPLAY if any is REPLAY, else SIMULATED if any is, else LIVE (the label of combined data)."""
    for p in (Provenance.REPLAY, Provenance.SIMULATED):
        if p in found:
            return p
    return Provenance.LIVE
