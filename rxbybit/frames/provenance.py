"""Which label a view shows: the provenance of its typed stream, or what the caller said instead.

Every Bybit stream is a :class:`~rxbybit.client.stream.Stream` carrying a
:class:`~rxbybit.client.stream.Provenance` (LIVE, SIMULATED or REPLAY) through any reactivex
operator. Frames and widgets take the label from there; ``provenance=`` or the older
``simulated=`` flag override it.
"""

from __future__ import annotations

from ..client.stream import Provenance, provenance_of
from ..display import badge


def resolve_provenance(
    source: object = None, *, provenance: Provenance | None = None, simulated: bool | None = None
) -> Provenance:
    """The provenance a view of ``source`` shows.

    ``source`` is a :class:`~rxbybit.client.stream.Stream`, a :class:`Provenance`, or anything else
    (taken as LIVE). An explicit ``provenance`` wins; ``simulated=True`` marks live data SIMULATED
    (data that is already SIMULATED or REPLAY keeps its label) and ``simulated=False`` marks it LIVE.

    Raises:
        ValueError: ``provenance`` and ``simulated`` are both given and disagree.
    """
    if provenance is not None:
        if simulated is not None and simulated != provenance.simulated:
            raise ValueError(f"simulated={simulated} contradicts provenance={provenance.name}: give one of them")
        return provenance
    base = source if isinstance(source, Provenance) else provenance_of(source)
    if simulated is None:
        return base
    if simulated:
        return base if base.simulated else Provenance.SIMULATED
    return Provenance.LIVE


def shown_label(provenance: Provenance) -> str:
    """The label views show: ``"SIMULATED"`` or ``"REPLAY"``, and ``""`` for live data."""
    return provenance.label if provenance.simulated else ""


def provenance_badge(provenance: Provenance) -> str:
    """The HTML badge of ``provenance`` (empty for live data)."""
    return badge(shown_label(provenance))
