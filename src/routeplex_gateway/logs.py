"""Structured logging that cannot carry request content.

Every log line is JSON with a fixed shape: time, level, logger, the event (the log call's
constant message template — never formatted with arguments), and only the `extra` fields on
`ALLOWED_FIELDS`. Exceptions are logged as their type and the frames' file, line and
function — never the exception's message, arguments or local variables, any of which could
quote a prompt, a provider's error text or a header. The same rules apply to third-party
loggers (uvicorn, asyncio, aiohttp, SQLAlchemy), so a library cannot leak around them.
"""

from __future__ import annotations

import logging
import sys
import traceback
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
    }
)

_STANDARD = frozenset(vars(logging.makeLogRecord({})))


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
            # The template, never `getMessage()`: arguments are where content would hide.
            "event": record.msg if isinstance(record.msg, str) else type(record.msg).__name__,
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name not in ALLOWED_FIELDS:
                continue
            if (
                isinstance(value, bool | int | float)
                or value is None
                or (isinstance(value, str) and len(value) <= 64)
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
    # The access log would write request paths and query strings; RoutePlex never enables it.
    logging.getLogger("uvicorn.access").disabled = True
