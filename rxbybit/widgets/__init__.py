"""Jupyter widgets for live Bybit data (core ipywidgets; the chart uses bqplot).

* :class:`LiveTable`: the newest rows of any live frame or row stream, formatted like a trading screen;
* :class:`LineChart`: live lines over a time window (UTC axis, second y axis, zoom and pan);
* :class:`OrderBookLadder`: bids and asks with cumulative depth bars and the spread;
* :class:`TickerBoard`: many symbols' tickers in one table;
* :class:`Candles`: a live candlestick chart;
* :class:`StatusBar`: connection health (state, msg/s, last-message age, reconnects, resyncs).

Every widget ingests every message but renders the newest state at a few Hz through the one
global render scheduler (:func:`rxbybit.display.get_render_scheduler`), and releases its
subscriptions on ``close()`` or when its cell is run again.
"""

from ._base import LiveWidget
from .candles import Candles
from .chart import LineChart
from .ladder import OrderBookLadder
from .status import StatusBar
from .table import LiveTable
from .tickers import TickerBoard

__all__ = ["Candles", "LineChart", "LiveTable", "LiveWidget", "OrderBookLadder", "StatusBar", "TickerBoard"]
