"""``op: auth`` on the private, trade and spot v3 private sockets: Bybit's checks and reply shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..protocol import replies
from ..protocol.clock import now_ms as wall_ms
from ..protocol.replies import ReqId, RetCode
from ..protocol.signing import verify
from .accounts import Account
from .args import as_int
from .conn import Conn


def check_auth(conn: Conn, args: Any, accounts: Mapping[str, Account]) -> tuple[int, str, Account | None]:
    """``(retCode, message, account)`` for an ``auth`` request with ``args = [key, expires, signature]``."""
    if conn.account is not None:
        return RetCode.REPEAT_AUTH, replies.REPEAT_AUTH, None
    if not isinstance(args, list) or len(args) != 3:
        return RetCode.PARAMS_ERROR, replies.AUTH_PARAMS_ERROR, None
    key, expires, signature = args
    exp = as_int(expires)
    acct = accounts.get(key) if isinstance(key, str) else None
    if exp is None or not isinstance(signature, str):
        return RetCode.PARAMS_ERROR, replies.AUTH_PARAMS_ERROR, None
    if acct is None:
        return RetCode.INVALID_API_KEY, replies.INVALID_API_KEY, None
    if exp <= wall_ms():
        return RetCode.PARAMS_ERROR, replies.AUTH_PARAMS_ERROR, None
    if not verify(acct.api_secret, exp, signature):
        return RetCode.INVALID_SIGN, replies.INVALID_SIGN, None
    return RetCode.OK, "", acct


def authenticate(conn: Conn, req_id: ReqId, args: Any, accounts: Mapping[str, Account]) -> None:
    """Check an ``auth`` request, bind the account to ``conn`` on success, and reply in the socket's shape."""
    code, message, acct = check_auth(conn, args, accounts)
    if acct is not None:
        conn.account = acct
    if conn.endpoint == "trade":
        conn.reply(replies.auth_reply("trade", conn.conn_id, req_id, code, message))
    elif conn.endpoint == "spot_v3_private" and code:
        conn.reply(replies.v3_error(*_v3_failure(code, message)))
    else:
        conn.reply(replies.auth_reply("private", conn.conn_id, req_id, code, message))


def _v3_failure(code: int, message: str) -> tuple[int, str]:
    """Spot v3 answers a bad signature with ``10003`` and its own text (observed); a bad key gets
    ``10003`` too (seen in a third-party test suite; text unconfirmed)."""
    if code == RetCode.INVALID_SIGN:
        return RetCode.INVALID_API_KEY, replies.V3_INVALID_SIGNATURE
    return code, message
