"""Typed errors. Each says what went wrong and what to do about it; none carries a secret."""

from __future__ import annotations


class RxBybitError(Exception):
    """Base class of every rxbybit error."""


class SubscriptionError(RxBybitError):
    """Bybit rejected a subscription. ``topic`` is the topic, ``message`` Bybit's own text."""

    def __init__(self, topic: str, message: str) -> None:
        self.topic = topic
        self.message = message
        super().__init__(f"Bybit rejected the subscription to {topic!r}: {message}")


class AuthenticationError(RxBybitError):
    """Bybit refused the API key/signature. Check the key, the secret and the clock."""

    def __init__(self, endpoint: str, message: str, code: int | None = None) -> None:
        self.endpoint = endpoint
        self.message = message
        self.code = code
        detail = f" (code {code})" if code is not None else ""
        super().__init__(
            f"authentication on {endpoint} failed{detail}: {message or 'no reason given'}; check the API key "
            "and secret, and that this machine's clock is correct"
        )


class ConfigurationError(RxBybitError, ValueError):
    """The client's settings cannot work (for example a second simulator configuration in a process
    whose simulator already runs). Retrying does not help: change the arguments."""


class ConnectionClosedError(RxBybitError):
    """The connection dropped (or the client was closed) while something was waiting on it."""


class ExchangeUnreachableError(RxBybitError):
    """The exchange could not be reached. ``network="sim"`` runs everything against the local simulator."""


class MissingCredentialsError(RxBybitError):
    """A private stream or the trade API was used on a client created without api_key/api_secret."""


class BlockingCallError(RxBybitError):
    """A blocking helper was called inside a running event loop (a notebook): use ``await`` instead."""


class ExchangeError(RxBybitError):
    """Bybit answered with a non-zero ``retCode`` (REST or trade API). ``code`` and ``message`` are Bybit's."""

    code: int | None
    message: str


class TradeError(ExchangeError):
    """Bybit answered a trade request with a non-zero ``retCode``. ``code`` and ``message`` are Bybit's."""

    code: int

    def __init__(self, op: str, code: int, message: str, req_id: str | None = None,
                 order_link_id: str | None = None) -> None:
        self.op = op
        self.code = code
        self.message = message
        self.req_id = req_id
        self.order_link_id = order_link_id
        link = f" (orderLinkId {order_link_id})" if order_link_id else ""
        super().__init__(f"{op} rejected by Bybit with retCode {code}: {message}{link}")


class TradeServiceRestartingError(TradeError):
    """Bybit answered ``10019``: its trade service is restarting and refused the request (it was not
    processed). The client has already moved to a new trade connection: retry the request (a
    create with the same ``orderLinkId`` can never be placed twice)."""

    retryable = True


class OrderNotSentError(RxBybitError):
    """A trade request was never sent: the trade connection did not open in time, or closed before
    the request left. Nothing reached the exchange, so retrying is safe (keep the ``orderLinkId``).
    """

    retryable = True

    def __init__(self, op: str, reason: str, req_id: str, order_link_id: str | None = None) -> None:
        self.op = op
        self.reason = reason
        self.req_id = req_id
        self.order_link_id = order_link_id
        link = f" (orderLinkId {order_link_id})" if order_link_id else ""
        super().__init__(f"{op} was not sent{link}: {reason}; nothing reached the exchange, it is safe to retry")


class OrderStatusUnknownError(RxBybitError):
    """A trade request got no answer in time, or its connection dropped while it was in flight.

    The order may or may not exist: reconcile from the ``orders()`` stream using ``order_link_id``.
    A create is never retried automatically, since that could place the order twice.
    """

    def __init__(self, op: str, reason: str, req_id: str, order_link_id: str | None = None) -> None:
        self.op = op
        self.reason = reason
        self.req_id = req_id
        self.order_link_id = order_link_id
        link = f"orderLinkId {order_link_id}" if order_link_id else f"reqId {req_id}"
        super().__init__(
            f"{op} status unknown ({reason}); reconcile {link} from the orders() stream before retrying"
        )


class RestError(ExchangeError):
    """A REST request failed: Bybit's ``retCode`` (``code``), or an HTTP ``status`` without one.

    ``path`` is the request path (never its signed headers).
    """

    def __init__(self, path: str, message: str, *, code: int | None = None, status: int | None = None) -> None:
        self.path = path
        self.code = code
        self.status = status
        self.message = message
        what = f"retCode {code}" if code is not None else f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"REST {path} failed ({what}): {message}")


class RateLimitError(RestError):
    """Bybit's rate limit was hit (retCode 10006, HTTP 403 IP limit or 429). ``reset_ms`` is when the
    window resets (epoch ms, 0 when unknown): slow down or wait until then."""

    def __init__(self, path: str, message: str, *, code: int | None = None, status: int | None = None,
                 reset_ms: int = 0) -> None:
        super().__init__(path, f"{message}; rate limited until {reset_ms or 'unknown'} (epoch ms): slow down",
                         code=code, status=status)
        self.reset_ms = reset_ms


class RestUnavailableError(RestError, ExchangeUnreachableError):
    """The REST API could not be reached or did not answer in time (``reason`` says which).
    ``network="sim"`` runs everything against the local simulator."""


class OrderValidationError(RxBybitError, ValueError):
    """An order's price or quantity breaks the instrument's rules (tick size, lot size, min/max qty,
    min notional); nothing was sent. ``field`` is ``price`` or ``qty``."""

    def __init__(self, symbol: str, field: str, value: str, problem: str) -> None:
        self.symbol = symbol
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{symbol} {field} {value} {problem}")
