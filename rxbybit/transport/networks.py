"""Where each network lives: base URLs of mainnet, testnet, demo, or a URL of the user's."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol.endpoints import ENDPOINT_PATHS, Endpoint, needs_auth

NETWORKS = ("mainnet", "testnet", "demo", "sim")


@dataclass(frozen=True, slots=True)
class Network:
    """Base URLs for public and private/trade sockets of one network."""

    name: str
    public_base: str
    private_base: str
    trade_available: bool = True
    simulated: bool = False

    def url(self, endpoint: Endpoint) -> str:
        """The full websocket URL of ``endpoint`` on this network."""
        private = needs_auth(endpoint)
        if endpoint == "trade" and not self.trade_available:
            raise ValueError(
                f"the WS trade API is not available on the {self.name} network (Bybit's demo trading has no "
                "/v5/trade); use network='testnet' or network='sim' for order entry"
            )
        base = self.private_base if private else self.public_base
        return base.rstrip("/") + ENDPOINT_PATHS[endpoint]


MAINNET = Network("mainnet", "wss://stream.bybit.com", "wss://stream.bybit.com")
TESTNET = Network("testnet", "wss://stream-testnet.bybit.com", "wss://stream-testnet.bybit.com")
DEMO = Network("demo", "wss://stream.bybit.com", "wss://stream-demo.bybit.com", trade_available=False)


def resolve(network: str) -> Network:
    """Network for a name (``mainnet``, ``testnet``, ``demo``) or a base URL (``ws://host:port``).

    ``sim`` is resolved by the client, which starts the simulator first and passes its URL.
    """
    if network == "mainnet":
        return MAINNET
    if network == "testnet":
        return TESTNET
    if network == "demo":
        return DEMO
    if network.startswith(("ws://", "wss://")):
        return Network(network, network, network)
    raise ValueError(
        f"unknown network {network!r}; expected 'mainnet', 'testnet', 'demo', 'sim' or a base URL such as "
        "'ws://127.0.0.1:8765'"
    )
