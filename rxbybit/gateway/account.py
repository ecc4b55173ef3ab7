"""One user's upstream: their private Bybit client (if they have keys), profile and notifications.

A user's client, and so their private pushes, profile and notifications, is reachable only
through a connection authorized as that user (the :class:`~rxbybit.gateway.hub.Hub` keeps one
:class:`Account` per user with at least one such connection).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reactivex import abc

from ..client import Bybit
from ..client.private_state import is_snapshot_row
from ..errors import AuthenticationError, RxBybitError
from .auth import Identity
from .envelopes import ErrorCode
from .fanout import Group, Router
from .profile import notification_from_execution, notification_from_order, profile_from_wallet
from .requests import NOTIFICATIONS, PROFILE


class NoCredentials(RxBybitError):
    """The user has no Bybit API keys on this gateway, and the request needs them."""

    def __init__(self, user: str) -> None:
        super().__init__(f"user {user!r} has no Bybit API keys on this gateway; "
                         "add them with 'rxbybit gateway users add NAME --api-key K --api-secret S'")


class LoginFailed(RxBybitError):
    """Bybit refused a user's API keys: their private streams stay off until the keys change."""

    def __init__(self, user: str, cause: Exception) -> None:
        super().__init__(f"Bybit refused the API keys of user {user!r} ({safe_text(cause)}); private streams are off "
                         "until the operator replaces them ('rxbybit gateway users set-keys'), and resume then")


def safe_text(exc: BaseException) -> str:
    """An exception's text for a client (our errors never carry secrets)."""
    return str(exc) or type(exc).__name__


class Account:
    """A user's private client (made on first need), their ``/user/*`` streams and their topic router."""

    def __init__(self, identity: Identity, make_client: Callable[[], Bybit] | None) -> None:
        self.identity = identity
        self._make_client = make_client
        self.client: Bybit | None = None
        self.router: Router | None = None
        self.sessions = 0
        self.login_error: Exception | None = None
        self.last_profile: dict[str, Any] | None = None
        self.profile = Group(PROFILE, self._start_profile)
        self.notifications = Group(NOTIFICATIONS, self._start_notifications)

    def upstream(self) -> Router:
        """The router over this user's private client (made now if needed).

        Raises :class:`NoCredentials` without keys, and :class:`LoginFailed` once Bybit has refused
        them (this account's keys never change: new keys make a new account).
        """
        if self.login_error is not None:
            raise LoginFailed(self.identity.user, self.login_error)
        if self.router is None:
            if self._make_client is None:
                raise NoCredentials(self.identity.user)
            self.client = self._make_client()
            self.router = Router(self.client, on_error=self._on_upstream_error)
        return self.router

    def _on_upstream_error(self, exc: Exception) -> None:
        if isinstance(exc, AuthenticationError) and self.login_error is None:
            self.login_error = exc

    def _start_profile(self) -> list[abc.DisposableBase]:
        client = self.upstream().client
        # the wallet stream starts from a REST snapshot: the current balance at once
        return [client.wallet().subscribe(on_next=self._on_wallet, on_error=self._on_profile_error)]

    def _on_wallet(self, item: Mapping[str, Any]) -> None:
        self.last_profile = profile_from_wallet(item)
        self.profile.emit(self.last_profile)

    def _on_profile_error(self, exc: Exception) -> None:
        self._on_upstream_error(exc)
        self.profile.fail(ErrorCode.UPSTREAM_ERROR, f"the wallet stream failed: {safe_text(exc)}")

    def _start_notifications(self) -> list[abc.DisposableBase]:
        if self._make_client is None:
            return []  # no Bybit keys: gateway notices only
        client = self.upstream().client
        return [
            client.orders().subscribe(on_next=self._on_order, on_error=self._on_private_error),
            client.executions().subscribe(on_next=self._on_execution, on_error=self._on_private_error),
        ]

    def _on_order(self, item: Mapping[str, Any]) -> None:
        if is_snapshot_row(item):
            return  # an order already open at subscribe time is state, not news
        note = notification_from_order(item)
        if note is not None:
            self.notifications.emit(note)

    def _on_execution(self, item: Mapping[str, Any]) -> None:
        self.notifications.emit(notification_from_execution(item))

    def _on_private_error(self, exc: Exception) -> None:
        self._on_upstream_error(exc)
        self.notifications.fail(ErrorCode.UPSTREAM_ERROR, f"the private order stream failed: {safe_text(exc)}")

    def idle(self) -> bool:
        """True when no connection and no stream needs this user's client any more."""
        return (self.sessions == 0 and not self.profile.sinks and not self.notifications.sinks
                and (self.router is None or self.router.topic_count == 0))

    async def close(self) -> None:
        """Stop every stream and close the private client."""
        self.profile.stop()
        self.notifications.stop()
        if self.router is not None:
            self.router.close()
        if self.client is not None:
            await self.client.close()
