"""One gateway connection: its authorization, direction, subscriptions and limits.

A :class:`Session` reads requests (already size-checked by the server), answers each with
exactly one ``ack`` or ``error`` frame, and receives live frames from the :class:`Hub` for its
subscriptions. Nothing a client sends raises out of :meth:`Session.receive`: bad input becomes an
error frame, and only abuse (a flood, token guessing) closes the connection.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any, Protocol

from ..errors import MissingCredentialsError
from ..protocol import topics as T
from ..protocol.clock import now_ms
from ..protocol.endpoints import needs_auth, req_id_key
from .account import NoCredentials
from .auth import AuthError, Identity, TokenVerifier
from .envelopes import ErrorCode, GatewayError, ack, error
from .fanout import Subscription, external_path
from .hub import Hub
from .limits import Limits, TokenBucket
from .requests import (
    AUTHORIZATION,
    EXTERNAL,
    NOTIFICATIONS,
    PROFILE,
    SYMBOLS,
    UNSUBSCRIBE,
    Request,
    parse_request,
)

log = logging.getLogger("rxbybit.gateway")

POLICY_VIOLATION = 1008


class Outbox(Protocol):
    """How a session writes to its client (a websocket, or a list in tests)."""

    def send(self, data: str | bytes) -> None:
        """Queue one text frame."""

    def buffered(self) -> int:
        """Bytes written but not yet sent."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Close the connection."""

    def send_wire(self, data: bytes, wire: bytes) -> None:
        """Queue one text frame given both as payload and as encoded frame (use either)."""


class Session:
    """Protocol state of one connection."""

    def __init__(self, hub: Hub, outbox: Outbox, verifier: TokenVerifier | None, limits: Limits,
                 clock: Any = time.monotonic) -> None:
        self.hub = hub
        self.outbox = outbox
        self.verifier = verifier
        self.limits = limits
        self._clock = clock
        self.identity: Identity | None = None
        self.direction: T.Endpoint | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.dropped = 0
        self.closed = False
        self._bucket = TokenBucket(limits.rate, limits.burst, clock())
        self._violations: collections.deque[float] = collections.deque()
        self._limited = False
        self._auth_failures = 0

    def __repr__(self) -> str:
        who = self.identity.user if self.identity else "anonymous"
        return f"<Session {who} direction={self.direction} subscriptions={len(self.subscriptions)}>"

    # ------------------------------------------------------------------ input

    async def receive(self, message: str | bytes) -> None:
        """Handle one client message; always answers, never raises."""
        if self.closed:
            return
        now = self._clock()
        if not self._bucket.take(now):
            self._on_flood(now)
            return
        self._limited = False
        request_id = None
        path = None
        try:
            request = parse_request(message, self.limits.max_message_bytes)
            request_id, path = request.id, request.path
            await self._dispatch(request)
        except GatewayError as exc:
            rid = exc.request_id if exc.request_id is not None else request_id
            self.outbox.send(error(exc.code, exc.message, exc.path or path, rid))
        except Exception as exc:  # a bug must not kill the connection; say so and log it
            log.exception("gateway request on %s failed", path)
            self.outbox.send(error(ErrorCode.INTERNAL, f"internal error handling {path or 'the request'}: "
                                   f"{type(exc).__name__}", path, request_id))

    def _on_flood(self, now: float) -> None:
        window = self.limits.violation_window
        self._violations.append(now)
        while self._violations and self._violations[0] < now - window:
            self._violations.popleft()
        if len(self._violations) > self.limits.max_rate_violations:
            self.outbox.send(error(ErrorCode.RATE_LIMITED, "connection closed: it kept flooding the gateway"))
            self.shutdown(POLICY_VIOLATION, "flooding")
            return
        if not self._limited:
            self._limited = True
            self.outbox.send(error(
                ErrorCode.RATE_LIMITED,
                f"too many requests: at most {self.limits.rate:g} per second (bursts of {self.limits.burst:g}); "
                "this request and the following ones are ignored until the rate drops",
            ))

    async def _dispatch(self, req: Request) -> None:
        if req.path == AUTHORIZATION:
            await self._authorize(req)
        elif req.path == EXTERNAL:
            self._external(req)
        elif req.path == SYMBOLS:
            self._subscribe(req, SYMBOLS, lambda: self.hub.symbols(self))
        elif req.path == NOTIFICATIONS:
            identity = self._need_auth(req)
            self._subscribe(req, NOTIFICATIONS, lambda: self.hub.notifications(identity, self))
        elif req.path == PROFILE:
            identity = self._need_auth(req)
            self._need_credentials(req, identity)
            self._subscribe(req, PROFILE, lambda: self.hub.profile(identity, self))
        elif req.path == UNSUBSCRIBE:
            self._unsubscribe(req)

    # ------------------------------------------------------------------ authorization

    async def _authorize(self, req: Request) -> None:
        if self.verifier is None:
            raise GatewayError(ErrorCode.AUTH_FAILED, "this gateway has no token verifier configured",
                               req.path, req.id)
        try:
            identity = await self.verifier.verify(req.payload["accessToken"], req.payload["fingerprint"])
        except AuthError as exc:
            self._auth_failures += 1
            if self._auth_failures >= self.limits.max_auth_failures:
                self.outbox.send(error(ErrorCode.AUTH_FAILED, f"authorization failed: {exc}; too many failures, "
                                       "closing the connection", req.path, req.id))
                self.shutdown(POLICY_VIOLATION, "too many failed authorizations")
                return
            raise GatewayError(ErrorCode.AUTH_FAILED, f"authorization failed: {exc}", req.path, req.id) from None
        if self.closed:
            return
        if self.identity is not None and self.identity.user != identity.user:
            raise GatewayError(ErrorCode.ALREADY_AUTHORIZED,
                               f"this connection is authorized as {self.identity.user!r}; open a new connection "
                               "to sign in as another user", req.path, req.id)
        if self.identity is None:
            self.hub.attach(identity)
        self.identity = identity
        self.outbox.send(ack(req.path, {"user": identity.user, "privateStreams": identity.credentials is not None},
                             req.id))

    def _need_auth(self, req: Request) -> Identity:
        if self.identity is None:
            raise GatewayError(ErrorCode.UNAUTHORIZED,
                               f"{req.path} needs authorization: send {{\"path\": \"authorization\", \"payload\": "
                               "{\"accessToken\": ..., \"fingerprint\": ...}} first", req.path, req.id)
        return self.identity

    def _need_credentials(self, req: Request, identity: Identity) -> None:
        if identity.credentials is None:
            raise GatewayError(ErrorCode.NO_CREDENTIALS,
                               f"{req.path} needs Bybit API keys, and user {identity.user!r} has none on this "
                               "gateway", req.path, req.id)

    # ------------------------------------------------------------------ subscriptions

    def _room(self, req: Request, wanted: int) -> None:
        if len(self.subscriptions) + wanted > self.limits.max_subscriptions:
            raise GatewayError(ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                               f"this connection holds {len(self.subscriptions)} subscriptions and may hold at most "
                               f"{self.limits.max_subscriptions}; unsubscribe some first", req.path, req.id)

    def _subscribe(self, req: Request, path: str, start: Any) -> None:
        if path in self.subscriptions:
            self.outbox.send(ack(req.path, {"subscribed": path, "already": True}, req.id))
            return
        self._room(req, 1)
        # ack first, so the client knows the subscription before its first event arrives
        self.outbox.send(ack(req.path, {"subscribed": path}, req.id))
        self.subscriptions[path] = _PENDING
        try:
            self._settle(path, start())
        except BaseException:
            self.subscriptions.pop(path, None)
            raise

    def _settle(self, path: str, sub: Subscription) -> None:
        """Keep ``sub`` unless the subscription already failed (or the session closed) meanwhile."""
        if self.subscriptions.get(path) is _PENDING:
            self.subscriptions[path] = sub
        else:
            sub.dispose()

    def _external(self, req: Request) -> None:
        direction = req.payload.get("direction")
        if direction is not None:
            if needs_auth(direction):
                identity = self._need_auth(req)
                self._need_credentials(req, identity)
            self.direction = direction
        op = req.payload.get("op")
        if op is None:
            self.outbox.send(ack(req.path, {"direction": self.direction}, req.id))
            return
        endpoint = self.direction
        if endpoint is None:
            raise GatewayError(ErrorCode.NO_DIRECTION,
                               'choose a direction first: {"path": "/external", "payload": {"direction": "spot"}}',
                               req.path, req.id)
        data: dict[str, Any] = {"op": op, "direction": endpoint}
        req_id = req_id_key(endpoint)
        if req_id in req.payload:
            data[req_id] = req.payload[req_id]
        if op == "ping":
            data["ts"] = now_ms()
            self.outbox.send(ack(req.path, data, req.id))
            return
        args: list[str] = list(dict.fromkeys(req.payload["args"]))
        if op == "subscribe":
            self._external_subscribe(req, endpoint, args, data)
        else:
            self._external_unsubscribe(req, endpoint, args, data)

    def _external_subscribe(self, req: Request, endpoint: T.Endpoint, args: list[str], data: dict[str, Any]) -> None:
        for arg in args:
            try:
                T.parse(arg, endpoint)
            except ValueError as exc:
                raise GatewayError(ErrorCode.BAD_TOPIC, f"bad topic {arg!r} for {endpoint}: {exc} (nothing was "
                                   "subscribed)", req.path, req.id) from None
        new = [a for a in args if external_path(endpoint, a) not in self.subscriptions]
        self._room(req, len(new))
        private = needs_auth(endpoint)
        identity = self.identity if private else None
        if private and (identity is None or identity.credentials is None):
            raise GatewayError(ErrorCode.UNAUTHORIZED, "private topics need an authorized connection with Bybit keys",
                               req.path, req.id)
        data["subscribed"] = [external_path(endpoint, a) for a in new]
        data["already"] = [external_path(endpoint, a) for a in args if a not in new]
        self.outbox.send(ack(req.path, data, req.id))
        for arg in new:
            path = external_path(endpoint, arg)
            self.subscriptions[path] = _PENDING
            try:
                self._settle(path, self.hub.external(endpoint, arg, identity, self))
            except (NoCredentials, MissingCredentialsError, PermissionError) as exc:
                self.subscriptions.pop(path, None)
                self.outbox.send(error(ErrorCode.NO_CREDENTIALS, str(exc), path, req.id))
            except Exception as exc:
                self.subscriptions.pop(path, None)
                log.exception("subscribing %s failed", path)
                self.outbox.send(error(ErrorCode.UPSTREAM_ERROR, f"could not subscribe {arg!r}: {exc}", path, req.id))

    def _external_unsubscribe(self, req: Request, endpoint: T.Endpoint, args: list[str],
                              data: dict[str, Any]) -> None:
        paths = [external_path(endpoint, a) for a in args]
        done = [p for p in paths if p in self.subscriptions]
        if not done:
            raise GatewayError(ErrorCode.NOT_SUBSCRIBED,
                               f"not subscribed to {', '.join(args)} on {endpoint}", req.path, req.id)
        for p in done:
            self.subscriptions.pop(p).dispose()
        data["unsubscribed"] = done
        data["notSubscribed"] = [p for p in paths if p not in done]
        self.outbox.send(ack(req.path, data, req.id))

    def _unsubscribe(self, req: Request) -> None:
        target: str = req.payload["path"]
        sub = self.subscriptions.pop(target, None)
        if sub is None:
            held = ", ".join(sorted(self.subscriptions)[:10]) or "none"
            raise GatewayError(ErrorCode.NOT_SUBSCRIBED,
                               f"no subscription {target[:100]!r} on this connection (held: {held})", req.path, req.id)
        sub.dispose()
        self.outbox.send(ack(req.path, {"unsubscribed": target}, req.id))

    # ------------------------------------------------------------------ output (called by the hub)

    def deliver(self, data: bytes, wire: bytes | None = None) -> None:
        """Send one event frame, or count it as dropped while the client reads too slowly."""
        if self.closed:
            return
        if self.outbox.buffered() > self.limits.max_buffered_bytes:
            self.dropped += 1
            return
        if self.dropped:
            count, self.dropped = self.dropped, 0
            self.outbox.send(error(ErrorCode.LAGGING, f"{count} events were dropped because this connection read "
                                   "too slowly"))
        if wire is None:
            self.outbox.send(data)
        else:
            self.outbox.send_wire(data, wire)

    def fail(self, path: str, code: ErrorCode, message: str) -> None:
        """A subscription ended upstream: forget it and tell the client."""
        if self.subscriptions.pop(path, None) is not None and not self.closed:
            self.outbox.send(error(code, message, path))

    # ------------------------------------------------------------------ lifecycle

    def shutdown(self, code: int, reason: str) -> None:
        """Close the connection (abuse) and release everything."""
        self.outbox.close(code, reason)
        self.release()

    def release(self) -> None:
        """Drop every subscription and the user's hold on their private client (idempotent)."""
        if self.closed:
            return
        self.closed = True
        subs, self.subscriptions = self.subscriptions, {}
        for sub in subs.values():
            try:
                sub.dispose()
            except Exception:
                log.exception("releasing a subscription failed")
        if self.identity is not None:
            self.hub.detach(self.identity)


class _Pending(Subscription):
    """Placeholder while a subscription is being set up."""

    def __init__(self) -> None:
        super().__init__(lambda: None)


_PENDING = _Pending()
