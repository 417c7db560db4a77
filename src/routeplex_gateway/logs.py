"""Structured logging that cannot carry request content.

Every log line is JSON with a fixed shape: time, level, logger, the event (the log call's
constant message template — never formatted with arguments, except the few lifecycle messages
on `RENDERED`), and only the `extra` fields on `ALLOWED_FIELDS`. Exceptions are logged as
their type and the frames' file, line and function — never the exception's message,
arguments or local variables, any of which could quote a prompt, a provider's error text or
a header. The same rules apply to third-party loggers (uvicorn, asyncio, aiohttp, SQLAlchemy),
so a library cannot leak around them.
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Numbers, ids and enumerations only: the same kinds of value the metadata record holds.
ALLOWED_FIELDS = frozenset(
    {
        "request_id",
        "account_id",
        "key_id",
        "status",
        "code",
        "count",
        "pending",
        "retry_in_s",
        "failures",
        "loop",
        "provider",
        "model",
        "deployment",
        "attempts",
        "error_type",
        "billed_days",
        "purged_rows",
        "fallback_plan",
        "backend",
        "port",
        "workers",
        "state",
        "duration_ms",
        # Set by the operator, never by a request: the data directory and its mode.
        "data_dir",
        "mode",
    }
)

# Fields whose values may be longer than an id: a path the operator chose.
_LONGEST = {"data_dir": 4096}

# The server's own lifecycle messages, by logger and exact template: their arguments are
# process ids, the address listened on, migration and plugin names — set by the operator or
# the code, never by a request — so these, and only these, are logged with them. A template
# not listed here (a new library version's, or any that could carry a request) stays a
# template.
RENDERED: dict[str, frozenset[str]] = {
    "uvicorn.error": frozenset(
        {
            "Started server process [%d]",
            "Finished server process [%d]",
            "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
            "Uvicorn running on %s://[%s]:%d (Press CTRL+C to quit)",
            "Maximum request limit of %d exceeded. Terminating process.",
        }
    ),
    "alembic.runtime.migration": frozenset(
        {"Context impl %s.", "Will assume %s DDL.", "Running %s"}
    ),
    "alembic.runtime.plugins": frozenset({"setup plugin %s"}),
}

_STANDARD = frozenset(vars(logging.makeLogRecord({})))

# Set in the task that runs a helper server in the gateway's process (the embedded
# simulator): uvicorn logs every server's lifecycle under one logger name, and a second
# "Started server process" with the same pid would only confuse.
_helper_server: ContextVar[bool] = ContextVar("routeplex_helper_server", default=False)


def quiet_helper_server() -> None:
    """Drop uvicorn's lifecycle (info) lines logged from the current task; warnings stay."""
    _helper_server.set(True)


def _event(record: logging.LogRecord) -> str:
    if not isinstance(record.msg, str):
        return type(record.msg).__name__
    if record.args and record.msg in RENDERED.get(record.name, ()):
        try:
            return record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: the template, as ever
            return record.msg
    # The template, never `getMessage()`: arguments are where content would hide.
    return record.msg


def _not_a_helper_lifecycle_line(record: logging.LogRecord) -> bool:
    return not (
        _helper_server.get() and record.name == "uvicorn.error" and record.levelno < logging.WARNING
    )


def _frames(exc: BaseException | None) -> list[str]:
    if exc is None or exc.__traceback__ is None:
        return []
    return [
        f"{frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    ]


class AllowListFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _event(record),
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name not in ALLOWED_FIELDS:
                continue
            if (
                isinstance(value, bool | int | float)
                or value is None
                or (isinstance(value, str) and len(value) <= _LONGEST.get(name, 64))
            ):
                event[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            event["error_type"] = type(exc).__name__
            event["frames"] = _frames(exc)
        return orjson.dumps(event).decode()


def configure(level: str) -> None:
    """Route every logger, ours and third parties', through the allow-list formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(AllowListFormatter())
    handler.addFilter(_not_a_helper_lifecycle_line)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in (
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "asyncio",
        "aiohttp",
        "sqlalchemy",
        "alembic",
    ):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Seven "setup plugin" lines at every start tell an operator nothing.
    logging.getLogger("alembic.runtime.plugins").setLevel(
        logging.DEBUG if level.lower() == "debug" else logging.WARNING
    )
    # The access log would write request paths and query strings; RoutePlex never enables it.
    logging.getLogger("uvicorn.access").disabled = True
