"""Logging cannot carry content: templates only, allow-listed fields, no exception text."""

from __future__ import annotations

import json
import logging

from routeplex_gateway.logs import AllowListFormatter, configure


def formatted(record: logging.LogRecord) -> dict[str, object]:
    line = AllowListFormatter().format(record)
    assert "secret-canary" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_arguments_and_unknown_fields_are_dropped() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, "f.py", 1, "user said %s", ("secret-canary",), None
    )
    record.prompt = "secret-canary"  # an extra that is not on the allow-list
    record.request_id = "req_1"
    record.status = 502
    event = formatted(record)
    assert event["event"] == "user said %s"
    assert event["request_id"] == "req_1" and event["status"] == 502
    assert "prompt" not in event


def test_exceptions_keep_their_type_and_frames_not_their_message() -> None:
    try:
        raise ValueError("secret-canary in an exception message")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, "f.py", 1, "failed", (), sys.exc_info())
    event = formatted(record)
    assert event["error_type"] == "ValueError"
    assert any("test_logs.py" in frame for frame in event["frames"])  # type: ignore[attr-defined]


def test_long_text_in_an_allowed_field_is_dropped() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "event", (), None)
    record.model = "secret-canary " * 10
    assert "model" not in formatted(record)


def test_configure_routes_third_party_loggers(capsys: object) -> None:
    configure("debug")
    try:
        logging.getLogger("uvicorn.error").error("Exception in %s", "secret-canary")
        logging.getLogger("uvicorn.access").info('%s "%s"', "127.0.0.1", "/v1?q=secret-canary")
        err = capsys.readouterr().err  # type: ignore[attr-defined]
        assert "Exception in %s" in err and "secret-canary" not in err
    finally:
        logging.getLogger().handlers[:] = []
        logging.getLogger("uvicorn.access").disabled = False


def test_only_the_servers_own_lifecycle_messages_are_rendered() -> None:
    def event(logger: str, template: str, *args: object) -> object:
        return formatted(logging.LogRecord(logger, logging.INFO, "f.py", 1, template, args, None))[
            "event"
        ]

    assert event("uvicorn.error", "Started server process [%d]", 4242) == (
        "Started server process [4242]"
    )
    assert event("alembic.runtime.migration", "Running %s", "upgrade  -> 0001") == (
        "Running upgrade  -> 0001"
    )
    # The same template from another logger, another template from the same logger, and
    # arguments that do not fit the template: each stays a template.
    assert event("x", "Started server process [%d]", "secret-canary") == (
        "Started server process [%d]"
    )
    assert event("uvicorn.error", "Exception in %s", "secret-canary") == "Exception in %s"
    assert event("uvicorn.error", "Started server process [%d]", "secret-canary") == (
        "Started server process [%d]"
    )
