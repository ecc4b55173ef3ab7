"""rxbybit: Bybit WebSocket streams as RxPY observables, live frames and widgets."""

__version__ = "0.1.0"
