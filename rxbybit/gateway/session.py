"""One gateway connection: its authorization, direction, subscriptions and limits.

A :class:`Session` reads requests (already size-checked by the server), answers each with
exactly one ``ack`` or ``error`` frame, and receives live frames from the :class:`Hub` for its
subscriptions. Nothing a client sends raises out of :meth:`Session.receive`: bad input becomes an
error frame, and only abuse (a flood, token guessing, not reading) closes the connection.

Every resource a connection makes the gateway hold is capped by :class:`~rxbybit.gateway.limits.Limits`:
requests (size, nesting, rate), subscriptions (count, new topics per second), and outbound bytes
(events are dropped over ``max_buffered_bytes``; a client over ``max_unsent_bytes``, or over the
first cap for ``slow_client_timeout`` seconds, is disconnected). A refused request changes nothing.
An authorized session is re-checked with its verifier on every private request and periodically
(:meth:`Session.recheck`): a revoked or expired token ends the session, and changed Bybit keys
move its private subscriptions to a client signed with the new keys.
"""

from __future__ import annotations

import collections
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import MissingCredentialsError
from ..protocol import topics as T
from ..protocol.clock import now_ms
from ..protocol.endpoints import needs_auth, req_id_key
from .account import LoginFailed, NoCredentials
from .auth import AuthError, Identity, TokenVerifier
from .envelopes import ErrorCode, GatewayError, ack, error
from .fanout import Subscription, external_path
from .hub import Hub, UnknownInstrument
from .limits import AddressBuckets, Limits, TokenBucket
from .requests import (
    AUTHORIZATION,
    EXTERNAL,
    NOTIFICATIONS,
    PROFILE,
    SYMBOLS,
    UNSUBSCRIBE,
    Request,
    parse_request,
    seed_alias,
)

log = logging.getLogger("rxbybit.gateway")

POLICY_VIOLATION = 1008

AUTH_REFUSED = ("authorization failed: unknown, revoked or expired access token, or a token bound to another "
                "device")
"""What every refused authorization says, whatever the reason (a guesser learns nothing)."""


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
                 clock: Any = time.monotonic, address: str = "", auth_buckets: AddressBuckets | None = None) -> None:
        self.hub = hub
        self.outbox = outbox
        self.verifier = verifier
        self.limits = limits
        self.address = address
        self._clock = clock
        self.identity: Identity | None = None
        self.direction: T.Endpoint | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.dropped = 0
        self.closed = False
        self.close_reason: str | None = None
        now = clock()
        self._bucket = TokenBucket(limits.rate, limits.burst, now)
        self._topic_bucket = TokenBucket(limits.topic_rate, limits.topic_burst, now)
        self._auth_buckets = auth_buckets
        self._violations: collections.deque[float] = collections.deque()
        self._limited = False
        self._auth_failures = 0
        self._credential: tuple[str, str] | None = None  # the token and fingerprint this session was authorized with
        self._private: dict[str, Callable[[Identity], Subscription]] = {}  # how to remake each private subscription
        self._slow_since: float | None = None

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
            request = parse_request(message, self.limits.max_message_bytes, self.limits.max_nesting)
            request_id, path = request.id, request.path
            await self._dispatch(request)
        except GatewayError as exc:
            rid = exc.request_id if exc.request_id is not None else request_id
            self._reply(error(exc.code, exc.message, exc.path or path, rid))
        except Exception as exc:  # a bug must not kill the connection; say so and log it
            log.exception("gateway request on %s failed", path)
            self._reply(error(ErrorCode.INTERNAL, f"internal error handling {path or 'the request'}: "
                              f"{type(exc).__name__}", path, request_id))

    def _on_flood(self, now: float) -> None:
        window = self.limits.violation_window
        self._violations.append(now)
        while self._violations and self._violations[0] < now - window:
            self._violations.popleft()
        if len(self._violations) > self.limits.max_rate_violations:
            self._reply(error(ErrorCode.RATE_LIMITED, "connection closed: it kept flooding the gateway"))
            self.shutdown(POLICY_VIOLATION, "flooding")
            return
        if not self._limited:
            self._limited = True
            self._reply(error(
                ErrorCode.RATE_LIMITED,
                f"too many requests: at most {self.limits.rate:g} per second (bursts of {self.limits.burst:g}); "
                "this request and the following ones are ignored until the rate drops",
            ))

    async def _dispatch(self, req: Request) -> None:
        if req.path == AUTHORIZATION:
            await self._authorize(req)
        elif req.path == EXTERNAL:
            await self._external(req)
        elif req.path == SYMBOLS:
            self._subscribe(req, SYMBOLS, lambda: self.hub.symbols(self))
        elif req.path == NOTIFICATIONS:
            identity = await self._need_auth(req)
            self._need_working_keys(req, identity)
            self._subscribe_private(req, NOTIFICATIONS, lambda who: self.hub.notifications(who, self))
        elif req.path == PROFILE:
            identity = await self._need_auth(req)
            self._need_credentials(req, identity)
            self._subscribe_private(req, PROFILE, lambda who: self.hub.profile(who, self))
        elif req.path == UNSUBSCRIBE:
            self._unsubscribe(req)

    # ------------------------------------------------------------------ authorization

    async def _authorize(self, req: Request) -> None:
        if self.verifier is None:
            raise GatewayError(ErrorCode.AUTH_FAILED, "this gateway has no token verifier configured",
                               req.path, req.id)
        token, fingerprint = req.payload["accessToken"], req.payload["fingerprint"]
        if self.identity is not None:
            if self._credential is None or not (hmac.compare_digest(token.encode(), self._credential[0].encode())
                                                and hmac.compare_digest(fingerprint.encode(),
                                                                        self._credential[1].encode())):
                # refused before any verifier sees the token: a refused request binds nothing
                raise GatewayError(ErrorCode.ALREADY_AUTHORIZED,
                                   f"this connection is already authorized as {self.identity.user!r}; open a new "
                                   "connection to sign in with another token", req.path, req.id)
            identity = await self._need_auth(req)
            self._reply(ack(req.path, {"user": identity.user, "privateStreams": identity.credentials is not None},
                            req.id))
            return
        if self._auth_buckets is not None and not self._auth_buckets.take(self.address, self._clock()):
            raise GatewayError(ErrorCode.RATE_LIMITED,
                               f"too many authorization attempts from this address: at most "
                               f"{self._auth_buckets.rate:g} per second (bursts of {self._auth_buckets.burst:g}); "
                               "try again later", req.path, req.id)
        try:
            identity = await self.verifier.verify(token, fingerprint)
        except AuthError as exc:
            log.debug("authorization refused: %s", exc)
            self._auth_failures += 1
            if self._auth_failures >= self.limits.max_auth_failures:
                self._reply(error(ErrorCode.AUTH_FAILED, f"{AUTH_REFUSED}; too many failures, closing the "
                                  "connection", req.path, req.id))
                self.shutdown(POLICY_VIOLATION, "too many failed authorizations")
                return
            raise GatewayError(ErrorCode.AUTH_FAILED, AUTH_REFUSED, req.path, req.id) from None
        if self.closed:
            return
        if self.identity is not None:  # another request authorized meanwhile
            raise GatewayError(ErrorCode.ALREADY_AUTHORIZED, f"this connection is already authorized as "
                               f"{self.identity.user!r}", req.path, req.id)
        self.hub.attach(identity)
        self.identity = identity
        self._credential = (token, fingerprint)
        self._reply(ack(req.path, {"user": identity.user, "privateStreams": identity.credentials is not None},
                        req.id))

    async def _need_auth(self, req: Request) -> Identity:
        """The connection's identity, re-checked with the verifier now (a revoked token ends the session)."""
        if self.identity is None:
            raise GatewayError(ErrorCode.UNAUTHORIZED,
                               f"{req.path} needs authorization: send {{\"path\": \"authorization\", \"payload\": "
                               "{\"accessToken\": ..., \"fingerprint\": ...}} first", req.path, req.id)
        if not await self.recheck(req):
            raise GatewayError(ErrorCode.UNAUTHORIZED, "this connection's authorization was revoked or has expired; "
                               "the connection is closed", req.path, req.id)
        assert self.identity is not None
        return self.identity

    async def recheck(self, req: Request | None = None) -> bool:
        """Check the session's token again: False (and the session ended) when it no longer holds.

        When the token still holds but the user's Bybit keys changed, the private subscriptions
        move to a client signed with the new keys (the old client is closed once unused).
        """
        if self.identity is None or self._credential is None or self.verifier is None or self.closed:
            return not self.closed
        check = getattr(self.verifier, "recheck", None) or self.verifier.verify
        try:
            fresh: Identity = await check(*self._credential)
        except AuthError as exc:
            log.info("session of %s ended: %s", self.identity.user, exc)
            self.revoke(req)
            return False
        if self.closed or self.identity is None:
            return False
        if fresh.user != self.identity.user:
            self.revoke(req)
            return False
        if fresh.account != self.identity.account:
            self._rebind(fresh)
        return True

    def revoke(self, req: Request | None = None) -> None:
        """The session's authorization no longer holds: say so (answering ``req``, if any) and close."""
        if self.closed:
            return
        self._reply(error(ErrorCode.UNAUTHORIZED, "this connection's authorization was revoked or has expired; "
                          "closing the connection", None if req is None else req.path, None if req is None else req.id))
        self.shutdown(POLICY_VIOLATION, "authorization revoked")

    def _rebind(self, fresh: Identity) -> None:
        old = self.identity
        assert old is not None
        self.identity = fresh
        self.hub.attach(fresh)
        for path, start in list(self._private.items()):
            sub = self.subscriptions.pop(path, None)
            if sub is not None:
                sub.dispose()
            self.subscriptions[path] = _PENDING
            try:
                self._settle(path, start(fresh))
            except Exception as exc:
                self.subscriptions.pop(path, None)
                self._private.pop(path, None)
                self._reply(error(ErrorCode.NO_CREDENTIALS if isinstance(exc, NoCredentials)
                                  else ErrorCode.UPSTREAM_ERROR,
                                  f"the Bybit keys of {fresh.user!r} changed and this subscription could not move "
                                  f"to them: {exc}", path))
        self.hub.detach(old)

    def _need_credentials(self, req: Request, identity: Identity) -> None:
        if identity.credentials is None:
            raise GatewayError(ErrorCode.NO_CREDENTIALS,
                               f"{req.path} needs Bybit API keys, and user {identity.user!r} has none on this "
                               "gateway", req.path, req.id)
        self._need_working_keys(req, identity)

    def _need_working_keys(self, req: Request, identity: Identity) -> None:
        """Refuse at once, saying why, while Bybit refuses this user's keys (until they change)."""
        failed = self.hub.login_error(identity)
        if failed is not None:
            raise GatewayError(ErrorCode.UPSTREAM_ERROR, str(failed), req.path, req.id)

    # ------------------------------------------------------------------ subscriptions

    def _room(self, req: Request, wanted: int) -> None:
        if len(self.subscriptions) + wanted > self.limits.max_subscriptions:
            raise GatewayError(ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                               f"this connection holds {len(self.subscriptions)} subscriptions and may hold at most "
                               f"{self.limits.max_subscriptions}; unsubscribe some first", req.path, req.id)

    def _subscribe(self, req: Request, path: str, start: Callable[[], Subscription]) -> None:
        if path in self.subscriptions:
            self._reply(ack(req.path, {"subscribed": path, "already": True}, req.id))
            return
        self._room(req, 1)
        # ack first, so the client knows the subscription before its first event arrives
        self._reply(ack(req.path, {"subscribed": path}, req.id))
        self.subscriptions[path] = _PENDING
        try:
            self._settle(path, start())
        except BaseException:
            self.subscriptions.pop(path, None)
            raise

    def _subscribe_private(self, req: Request, path: str, start: Callable[[Identity], Subscription]) -> None:
        identity = self.identity
        assert identity is not None
        self._subscribe(req, path, lambda: start(identity))
        if path in self.subscriptions:
            self._private[path] = start

    def _settle(self, path: str, sub: Subscription) -> None:
        """Keep ``sub`` unless the subscription already failed (or the session closed) meanwhile."""
        if self.subscriptions.get(path) is _PENDING:
            self.subscriptions[path] = sub
        else:
            sub.dispose()

    async def _external(self, req: Request) -> None:
        direction = req.payload.get("direction")
        endpoint: T.Endpoint | None = direction if direction is not None else self.direction
        if endpoint is not None and needs_auth(endpoint):
            identity = await self._need_auth(req)
            self._need_credentials(req, identity)
        op = req.payload.get("op")
        if op is None:
            self.direction = endpoint
            self._reply(ack(req.path, {"direction": self.direction}, req.id))
            return
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
            self.direction = endpoint
            self._reply(ack(req.path, data, req.id))
            return
        args: list[str] = list(dict.fromkeys(req.payload["args"]))
        if op == "subscribe":
            self._external_subscribe(req, endpoint, args, data)
        else:
            self._external_unsubscribe(req, endpoint, args, data)

    def _external_subscribe(self, req: Request, endpoint: T.Endpoint, args: list[str], data: dict[str, Any]) -> None:
        for arg in args:
            try:
                self.hub.check_topic(T.parse(arg, endpoint))
            except UnknownInstrument as exc:
                raise GatewayError(ErrorCode.BAD_TOPIC, f"bad topic {arg!r} for {endpoint}: {exc} (nothing was "
                                   "subscribed)", req.path, req.id) from None
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
        if new and not self._topic_bucket.take(self._clock(), len(new)):
            raise GatewayError(ErrorCode.RATE_LIMITED,
                               f"too many new topics: a connection may add at most {self.limits.topic_rate:g} per "
                               f"second (bursts of {self.limits.topic_burst:g}); nothing was subscribed",
                               req.path, req.id)
        self.direction = endpoint
        data["subscribed"] = [external_path(endpoint, a) for a in new]
        data["already"] = [external_path(endpoint, a) for a in args if a not in new]
        self._reply(ack(req.path, data, req.id))
        for arg in new:
            path = external_path(endpoint, arg)
            self.subscriptions[path] = _PENDING
            try:
                self._settle(path, self.hub.external(endpoint, arg, identity, self))
            except (NoCredentials, MissingCredentialsError, PermissionError) as exc:
                self.subscriptions.pop(path, None)
                self._reply(error(ErrorCode.NO_CREDENTIALS, str(exc), path, req.id))
            except LoginFailed as exc:
                self.subscriptions.pop(path, None)
                self._reply(error(ErrorCode.UPSTREAM_ERROR, str(exc), path, req.id))
            except Exception as exc:
                self.subscriptions.pop(path, None)
                log.exception("subscribing %s failed", path)
                self._reply(error(ErrorCode.UPSTREAM_ERROR, f"could not subscribe {arg!r}: {exc}", path, req.id))
            else:
                if private and path in self.subscriptions:
                    self._private[path] = _external_start(self, endpoint, arg)

    def _external_unsubscribe(self, req: Request, endpoint: T.Endpoint, args: list[str],
                              data: dict[str, Any]) -> None:
        paths = [external_path(endpoint, a) for a in args]
        done = [p for p in paths if p in self.subscriptions]
        if not done:
            raise GatewayError(ErrorCode.NOT_SUBSCRIBED,
                               f"not subscribed to {', '.join(args)} on {endpoint}", req.path, req.id)
        self.direction = endpoint
        for p in done:
            self._drop(p)
        data["unsubscribed"] = done
        data["notSubscribed"] = [p for p in paths if p not in done]
        self._reply(ack(req.path, data, req.id))

    def _unsubscribe(self, req: Request) -> None:
        target: str = req.payload["path"]
        alias = seed_alias(target)
        if target not in self.subscriptions and alias is not None:
            target = alias
        if target not in self.subscriptions:
            held = ", ".join(sorted(self.subscriptions)[:10]) or "none"
            hint = f" ({req.payload['path']!r} stands for {alias!r})" if alias is not None else ""
            raise GatewayError(ErrorCode.NOT_SUBSCRIBED,
                               f"no subscription {target[:100]!r} on this connection{hint} (held: {held})",
                               req.path, req.id)
        self._drop(target)
        self._reply(ack(req.path, {"unsubscribed": target}, req.id))

    def _drop(self, path: str) -> None:
        self._private.pop(path, None)
        self.subscriptions.pop(path).dispose()

    # ------------------------------------------------------------------ output

    def _reply(self, frame: str) -> None:
        """Send an ack or error, unless the client has left too much unread (then it is disconnected)."""
        if not self.closed and self._may_send(self.outbox.buffered(), len(frame)):
            self.outbox.send(frame)

    def _may_send(self, buffered: int, size: int) -> bool:
        """Enforce the outbound caps given the unsent bytes; False (and the client disconnected) when over."""
        limits = self.limits
        if buffered + size > limits.max_unsent_bytes:
            self._evict(f"not reading: {buffered} bytes unsent")
            return False
        if buffered > limits.max_buffered_bytes:
            now = self._clock()
            if self._slow_since is None:
                self._slow_since = now
            elif now - self._slow_since > limits.slow_client_timeout:
                self._evict(f"reading too slowly for {limits.slow_client_timeout:g} s")
                return False
        else:
            self._slow_since = None
        return True

    def check_slow(self) -> None:
        """Called periodically: disconnect a client that has stayed over its outbound cap too long."""
        if not self.closed:
            self._may_send(self.outbox.buffered(), 0)

    def _evict(self, reason: str) -> None:
        log.info("closing a gateway connection from %s: %s", self.address or "?", reason)
        self.shutdown(POLICY_VIOLATION, reason)

    def deliver(self, data: bytes, wire: bytes | None = None) -> None:
        """Send one event frame, or count it as dropped while the client reads too slowly."""
        if self.closed:
            return
        buffered = self.outbox.buffered()
        if not buffered and wire is not None and not self.dropped and len(data) <= self.limits.max_unsent_bytes:
            # the common case, the client keeps up: what _may_send would decide, without the call
            self._slow_since = None
            self.outbox.send_wire(data, wire)
            return
        if not self._may_send(buffered, len(data)):
            return
        if buffered > self.limits.max_buffered_bytes:
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
        self._private.pop(path, None)
        if self.subscriptions.pop(path, None) is not None:
            self._reply(error(code, message, path))

    # ------------------------------------------------------------------ lifecycle

    def shutdown(self, code: int, reason: str) -> None:
        """Close the connection (abuse, revocation) and release everything."""
        if self.closed:
            return
        self.close_reason = reason
        self.outbox.close(code, reason)
        self.release()

    def release(self) -> None:
        """Drop every subscription and the user's hold on their private client (idempotent)."""
        if self.closed:
            return
        self.closed = True
        subs, self.subscriptions = self.subscriptions, {}
        self._private.clear()
        for sub in subs.values():
            try:
                sub.dispose()
            except Exception:
                log.exception("releasing a subscription failed")
        if self.identity is not None:
            self.hub.detach(self.identity)


def _external_start(session: Session, endpoint: T.Endpoint, topic: str) -> Callable[[Identity], Subscription]:
    def start(identity: Identity) -> Subscription:
        return session.hub.external(endpoint, topic, identity, session)

    return start


class _Pending(Subscription):
    """Placeholder while a subscription is being set up."""

    def __init__(self) -> None:
        super().__init__(lambda: None)


_PENDING = _Pending()
