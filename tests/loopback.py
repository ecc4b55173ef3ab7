"""Loopback only: sockets of the test process may connect to 127.0.0.0/8, ::1, ``localhost`` or a
Unix path, nothing else (tests/conftest.py installs this for the whole suite)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


class NotLoopbackError(RuntimeError):
    """A test tried to connect somewhere other than this machine."""


def check_loopback(address: Any) -> None:
    """Raise :class:`NotLoopbackError` unless ``address`` is a Unix path or a loopback host."""
    if not isinstance(address, tuple):
        return  # AF_UNIX path
    host = str(address[0])
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopbackError(f"tests connect to loopback only, not {address!r}: use the simulator on 127.0.0.1")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _connect_loopback(self: socket.socket, address: Any) -> None:
    check_loopback(address)
    _connect(self, address)


def _connect_ex_loopback(self: socket.socket, address: Any) -> int:
    check_loopback(address)
    return _connect_ex(self, address)


def install() -> None:
    """Make every socket of this process refuse non-loopback addresses (idempotent)."""
    socket.socket.connect = _connect_loopback  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex_loopback  # type: ignore[method-assign]
