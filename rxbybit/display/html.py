"""Small HTML pieces every live view uses: escaping, the data-source badge, a titled table.

Views build their HTML as strings (one trait message per render); everything taken from data is
escaped with :func:`esc`. The badge shows where data comes from when it is not the live market:
``SIMULATED`` (the local simulator) or ``REPLAY`` (a recording); live data shows no badge.
"""

from __future__ import annotations

import html

BADGE_STYLES: dict[str, tuple[str, str]] = {
    "SIMULATED": ("#b45309", "data from the local simulator, not the market"),
    "REPLAY": ("#7c3aed", "a recording played back, not the live market"),
}
"""Badge colour and tooltip per label; an unknown label gets a neutral grey."""

_NEUTRAL = ("#6b7280", "")


def esc(value: object) -> str:
    """HTML-escape any value's ``str``."""
    return html.escape(str(value))


def badge(label: str) -> str:
    """``label`` (``"SIMULATED"``, ``"REPLAY"``) as a coloured badge; an empty label gives ``""``."""
    if not label:
        return ""
    color, note = BADGE_STYLES.get(label, _NEUTRAL)
    return (
        f'<span style="background:{color};color:white;font-weight:bold;padding:1px 6px;'
        f'border-radius:3px;font-size:11px" title="{esc(note)}">{esc(label)}</span>'
    )


def titled_html(kind: str, label: str, title: str, body: str) -> str:
    """A view's static HTML: a ``rxbybit-<kind>`` block with the badge and title over ``body``.

    ``title`` is escaped; ``body`` is HTML already (a table).
    """
    return (
        f'<div class="rxbybit-{kind.lower()}"><div style="font-size:12px;margin-bottom:2px">'
        f"{badge(label)} {esc(title)}</div>{body}</div>"
    )
