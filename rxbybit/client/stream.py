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


class Stream(Observable[T_co]):
    """An observable with a :class:`Provenance` that survives ``pipe``.

    Build one from a subscribe function (like ``reactivex.create``) or wrap any observable with
    :meth:`wrap`. ``pipe`` returns a ``Stream`` of the same provenance whenever the operators
    produce an observable; anything else (a ``LiveFrame`` from ``ops.to_frame()``) is returned as is.
    """

    def __init__(
        self,
        subscribe: Callable[[abc.ObserverBase[Any], abc.SchedulerBase | None], abc.DisposableBase] | None = None,
        provenance: Provenance = Provenance.LIVE,
    ) -> None:
        super().__init__(subscribe)
        self.provenance = provenance

    @classmethod
    def wrap(cls, source: Observable[Any], provenance: Provenance) -> Stream[Any]:
        """``source`` as a ``Stream`` with ``provenance`` (no extra hop per value)."""
        if isinstance(source, Stream) and source.provenance is provenance:
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
                result = Stream.wrap(result, self.provenance)
        return result

    def __repr__(self) -> str:
        return f"<Stream {self.provenance.label}>"


def provenance_of(source: object, default: Provenance = Provenance.LIVE) -> Provenance:
    """The provenance of ``source`` if it is a :class:`Stream`, else ``default``."""
    return source.provenance if isinstance(source, Stream) else default
