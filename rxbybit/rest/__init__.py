"""Bybit's V5 REST API: an async client on httpx (signing, envelope, typed errors, retries).

A layer of its own between transport and client: it imports only :mod:`rxbybit.protocol` (where
the REST rules live, shared with the simulator) and :mod:`rxbybit.errors`.
"""

from .client import RestClient, RetryPolicy, http_base

__all__ = ["RestClient", "RetryPolicy", "http_base"]
