"""Running rxbybit code from scripts, and the guard for blocking calls inside a running loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..errors import BlockingCallError

T = TypeVar("T")

_nested_allowed = False


def allow_nested() -> None:
    """Opt in to nest-asyncio so blocking helpers work inside a running loop (e.g. a notebook).

    nest-asyncio is unmaintained and breaks on newer Pythons; rxbybit never needs it. Prefer ``await``.
    """
    global _nested_allowed
    try:
        import nest_asyncio  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise ImportError("allow_nested() needs the optional package nest-asyncio: pip install nest-asyncio") from exc
    nest_asyncio.apply()
    _nested_allowed = True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion in a new event loop (for scripts): ``rb.run(main())``."""
    if _running_loop() is not None and not _nested_allowed:
        main.close()
        raise BlockingCallError(
            "rb.run() was called inside a running event loop (a notebook?): use `await main()` instead"
        )
    if _nested_allowed and (loop := _running_loop()) is not None:
        return loop.run_until_complete(main)
    return asyncio.run(main)


def wait(awaitable: Any, timeout: float | None = None) -> Any:
    """Block until ``awaitable`` (a coroutine or an observable) is done and return its result.

    Inside a running loop this raises :class:`BlockingCallError` pointing to ``await`` (unless
    :func:`allow_nested` was called).
    """
    if _running_loop() is not None and not _nested_allowed:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise BlockingCallError(
            "a blocking rxbybit helper was called inside a running event loop: use `await ...` instead "
            "(or opt in with rxbybit.allow_nested(), which needs nest-asyncio)"
        )

    async def _go() -> Any:
        return await asyncio.wait_for(_as_coroutine(awaitable), timeout)

    return run(_go())


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable
