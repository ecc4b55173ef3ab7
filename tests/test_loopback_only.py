"""The suite's guard: sockets of the test process reach loopback only (see tests/conftest.py)."""

from __future__ import annotations

import socket

import pytest
from loopback import NotLoopbackError, check_loopback

import rxbybit as rb


def test_non_loopback_addresses_are_refused_before_any_packet() -> None:
    for address in (("192.0.2.1", 443), ("stream.bybit.com", 443), ("2001:db8::1", 443, 0, 0)):
        with pytest.raises(NotLoopbackError, match="loopback only"):
            check_loopback(address)
    with pytest.raises(NotLoopbackError):
        socket.create_connection(("192.0.2.1", 9), timeout=1)  # TEST-NET-1: refused here, never sent


def test_loopback_addresses_pass() -> None:
    for address in (("127.0.0.1", 1), ("127.8.9.10", 1), ("::1", 1, 0, 0), ("localhost", 1), "/tmp/x.sock"):
        check_loopback(address)


def test_the_default_network_in_tests_is_the_simulator() -> None:
    assert rb.Bybit().network_name == "sim"
