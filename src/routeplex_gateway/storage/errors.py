"""Storage errors, and the one place driver exceptions are turned into them.

Callers catch `StorageError` for anything the database could not do (unreachable, locked,
schema missing, a constraint refusing a row) without knowing which backend or driver is
underneath. Messages name the operation and the kind of failure, never a row's values: a
caller may log them, and DESIGN.md §4 says what may be written down.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

P = ParamSpec("P")
R = TypeVar("R")


class StorageError(Exception):
    """The database could not do what was asked."""


class AccountExists(StorageError):
    """An account with that name already exists."""


class InvalidAccountName(ValueError):
    """A name no account may have; the message completes "The name …" and quotes nothing."""


def translated(
    operation: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate a coroutine function so driver, pool and socket failures become `StorageError`.

    `operation` is a fixed phrase chosen by the caller ("insert metadata"), never data.
    Failures to reach the database keep the driver's exception as `__cause__`: it describes
    the connection, which operators need. Failures of a statement do not, because the
    database's text can quote the statement's values (PostgreSQL's "DETAIL: Key (name)=(…)",
    asyncpg's "invalid input for query argument $3: …"); their message carries the error
    class and SQLSTATE (or SQLite error name) instead, and they are raised outside the
    handler so the original is not even kept as `__context__`. (A decorator rather than a
    `with` block for that reason: anything raised from `__exit__` gets the original as context.)
    """

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(function)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            replacement: Exception
            try:
                return await function(*args, **kwargs)
            except (sa_exc.SQLAlchemyError, OSError, TimeoutError, OverflowError) as exc:
                found = _without_values(operation, exc)
                if found is None:
                    raise StorageError(
                        f"{operation}: database failure ({type(exc).__name__})"
                    ) from exc
                replacement = found
            raise replacement

        return run

    return decorate


def _without_values(operation: str, exc: BaseException) -> Exception | None:
    """The value-free error to raise for `exc`, or None if `exc` may be chained as it is."""
    if isinstance(exc, OverflowError) or _raised_while_binding(exc):
        return _invalid_value(operation)
    if not isinstance(exc, sa_exc.DBAPIError):
        return None  # sockets, pool timeouts: nothing of a row in them
    if exc.statement is None or exc.connection_invalidated:
        return None  # connecting, or the connection died: the text is about the connection
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(code, str) and code.startswith("22"):
        return _invalid_value(operation)  # SQLSTATE class 22: a value the column cannot hold
    detail = type(exc).__name__ if code is None else f"{type(exc).__name__}, {code}"
    return StorageError(f"{operation}: rejected by the database ({detail})")


def _invalid_value(operation: str) -> ValueError:
    # A caller's bug (a naive datetime, an integer beyond 64 bits), not an outage: retrying
    # cannot help, so it must not look like a StorageError to code that retries those.
    return ValueError(f"{operation}: a value cannot be stored as given")


def _raised_while_binding(exc: BaseException) -> bool:
    """A column type refused a Python value before anything reached the database."""
    return (
        isinstance(exc, sa_exc.StatementError)
        and not isinstance(exc, sa_exc.DBAPIError)
        and isinstance(exc.orig, (ValueError, TypeError))
    )
