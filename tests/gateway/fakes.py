"""Stand-ins for a session's collaborators: a hub that records subscriptions, a verifier, an outbox."""

from __future__ import annotations

import json
from typing import Any

from rxbybit.gateway import AuthError, Identity
from rxbybit.gateway.fanout import Subscription
from rxbybit.protocol.signing import Credentials


class FakeHub:
    """Records what a session holds, so the test can compare it with the session's own view."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.attached: list[str] = []
        self.detached: list[str] = []

    def _sub(self, path: str) -> Subscription:
        assert path not in self.active, f"{path} subscribed twice"
        self.active.add(path)
        return Subscription(lambda: self.active.discard(path))

    def external(self, endpoint: str, topic: str, identity: Identity | None, sink: Any) -> Subscription:
        assert (endpoint == "private") == (identity is not None)
        return self._sub(f"/external/{endpoint}/{topic}")

    def symbols(self, sink: Any) -> Subscription:
        return self._sub("/symbols")

    def profile(self, identity: Identity, sink: Any) -> Subscription:
        assert identity.credentials is not None
        return self._sub("/user/profile")

    def notifications(self, identity: Identity, sink: Any) -> Subscription:
        return self._sub("/user/notifications")

    def check_topic(self, topic: Any) -> None:
        """Every instrument is listed here."""

    def login_error(self, identity: Identity) -> None:
        return None

    def attach(self, identity: Identity) -> None:
        self.attached.append(identity.user)

    def detach(self, identity: Identity) -> None:
        self.detached.append(identity.user)


class FakeVerifier:
    async def verify(self, access_token: str, fingerprint: str) -> Identity:
        if not access_token.startswith("good-"):
            raise AuthError("unknown or revoked access token")
        user = access_token[5:]
        creds = None if user == "nokeys" else Credentials("k", "s")
        return Identity(user, creds)


class Outbox:
    """Keeps every frame; ``unread`` counts the bytes of those the test says the client has not read."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.reading = True
        self.unread = 0

    def send(self, data: str | bytes) -> None:
        self.frames.append(json.loads(data))
        if not self.reading:
            self.unread += len(data)

    def buffered(self) -> int:
        return self.unread

    def send_wire(self, data: bytes, wire: bytes) -> None:
        self.send(data)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
