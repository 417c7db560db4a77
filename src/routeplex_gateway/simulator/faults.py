"""The fault registry and its control endpoints (`/_simulator/faults`).

A fault is registered as JSON, for example `{"model": "gpt-4o", "status": 500, "count": 3}`:

* `model` (required): the model name as the provider knows it; `"*"` matches every model.
* at most one action: `status` (400-599, with optional `code` and `retry_after` seconds),
  `hang: true`, `cut_after_chunks`, `malformed_after_chunks` or `stall_after_chunks` (K >= 0);
  each format renders them its provider's way (its error bodies for `status`; on Anthropic
  streams `malformed` is the mid-stream `event: error` Anthropic sends, see the formats'
  `*_endpoints.py`; `code: "context_length_exceeded"` gives each provider's own wording of a
  context-window overflow);
* `latency_ms`: delay before the response headers; it composes with any action;
* lifetime: the next `count` matching requests, or `duration_s` seconds, whichever ends first,
  or until `DELETE /_simulator/faults` when neither is given.

For each request, every matching latency-only fault applies (and is consumed), and the oldest
matching fault with an action wins (only it is consumed), so `{status: 500, count: 1}` then
`{status: 503, count: 1}` fail the next two requests with 500 and then 503.

Hung and stalled requests wait on a release event; clearing the faults (or the server
shutting down, see `server.py`) sets it, so nothing waits forever.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BreakKind = Literal["cut", "malformed", "stall"]
BREAK_FIELDS: dict[str, BreakKind] = {
    "cut_after_chunks": "cut",
    "malformed_after_chunks": "malformed",
    "stall_after_chunks": "stall",
}
ACTION_FIELDS = ("status", "hang", *BREAK_FIELDS)
ALLOWED_FIELDS: tuple[str, ...] = (
    "model",
    "latency_ms",
    "count",
    "duration_s",
    "code",
    "retry_after",
    *ACTION_FIELDS,
)


class FaultSpecError(ValueError):
    """A fault body that cannot be registered; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class StatusFault:
    """Answer with the provider's real error body for `status`."""

    status: int
    code: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class HangFault:
    """Accept the request and send nothing until released or the client gives up."""


@dataclass(frozen=True)
class BreakFault:
    """Send `after_chunks` good chunks, then cut the connection, send junk, or go silent."""

    kind: BreakKind
    after_chunks: int


Action = StatusFault | HangFault | BreakFault


@dataclass
class Fault:
    """One registered fault and what is left of its lifetime."""

    id: str
    model: str
    spec: dict[str, Any]
    latency_s: float = 0.0
    action: Action | None = None
    remaining: int | None = None
    expires_at: float | None = None

    def view(self, now: float) -> dict[str, Any]:
        """The fault as JSON for `GET /_simulator/faults`."""
        expires_in = None if self.expires_at is None else max(self.expires_at - now, 0.0)
        return {
            "id": self.id,
            **self.spec,
            "remaining_count": self.remaining,
            "expires_in_s": expires_in,
        }


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: a total delay, at most one action, and the release event."""

    latency_s: float = 0.0
    action: Action | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)


def parse_fault(body: Any, *, fault_id: str, now: float) -> Fault:
    """Validate a fault body registered at `now`; raise FaultSpecError when it is invalid."""
    if not isinstance(body, dict):
        raise FaultSpecError("A fault must be a JSON object.")
    unknown = sorted(set(body) - set(ALLOWED_FIELDS))
    if unknown:
        raise FaultSpecError(
            f"Unknown fault field {unknown[0]!r}; allowed: {', '.join(ALLOWED_FIELDS)}.", unknown[0]
        )
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise FaultSpecError("'model' is required: a model name, or '*' for every model.", "model")
    # `hang: false` is the one way to spell "no action" explicitly.
    actions = [n for n in ACTION_FIELDS if n in body and not (n == "hang" and body[n] is False)]
    if len(actions) > 1:
        raise FaultSpecError(f"Give at most one action, not {' and '.join(actions)}.", actions[1])
    latency_ms = _number(body, "latency_ms", minimum=0.0)
    if not actions and latency_ms is None:
        raise FaultSpecError(f"Give latency_ms or one action: {', '.join(ACTION_FIELDS)}.")
    for dependent in ("code", "retry_after"):
        if dependent in body and "status" not in body:
            raise FaultSpecError(f"'{dependent}' only applies to a 'status' fault.", dependent)
    action = _action(body, actions[0]) if actions else None
    count = body.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise FaultSpecError("'count' must be an integer >= 1.", "count")
    duration_s = _number(body, "duration_s", minimum=0.0, exclusive=True)
    return Fault(
        id=fault_id,
        model=model,
        spec=dict(body),
        latency_s=(latency_ms or 0.0) / 1000,
        action=action,
        remaining=count,
        expires_at=None if duration_s is None else now + duration_s,
    )


class FaultRegistry:
    """Registered faults, matched per request in registration order."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._release = asyncio.Event()

    def add(self, body: Any) -> Fault:
        """Register a fault from its JSON body (raises FaultSpecError)."""
        fault = parse_fault(body, fault_id=f"fault_{next(self._ids)}", now=self._clock())
        self._faults.append(fault)
        return fault

    def active(self) -> list[Fault]:
        """The faults still alive, oldest first."""
        self._purge()
        return list(self._faults)

    def view(self, fault: Fault) -> dict[str, Any]:
        """One fault as JSON, with what is left of its lifetime."""
        return fault.view(self._clock())

    def views(self) -> list[dict[str, Any]]:
        """The faults still alive as JSON."""
        return [self.view(fault) for fault in self.active()]

    def clear(self) -> int:
        """Remove every fault and release hung or stalled requests; return how many."""
        cleared = len(self._faults)
        self._faults.clear()
        self.release_waiters()
        return cleared

    def release_waiters(self) -> None:
        """Wake every hung or stalled request (faults stay registered)."""
        self._release.set()
        self._release = asyncio.Event()

    def take(self, model: str) -> FaultPlan:
        """The plan for one request to `model`, consuming what it uses."""
        self._purge()
        latency_s = 0.0
        action: Action | None = None
        for fault in self._faults:
            if fault.model not in ("*", model):
                continue
            if fault.action is not None:
                if action is not None:
                    continue
                action = fault.action
            latency_s += fault.latency_s
            if fault.remaining is not None:
                fault.remaining -= 1
        self._purge()
        return FaultPlan(latency_s, action, self._release)

    def _purge(self) -> None:
        now = self._clock()
        self._faults = [
            fault
            for fault in self._faults
            if (fault.remaining is None or fault.remaining > 0)
            and (fault.expires_at is None or fault.expires_at > now)
        ]


def control_routes(registry: FaultRegistry) -> list[Route]:
    """`GET`, `POST` and `DELETE /_simulator/faults`."""

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                fault = registry.add(orjson.loads(await request.body()))
            except orjson.JSONDecodeError:
                return _invalid(FaultSpecError("The fault body is not valid JSON."))
            except FaultSpecError as error:
                return _invalid(error)
            return _json({"fault": registry.view(fault)}, 201)
        if request.method == "DELETE":
            return _json({"cleared": registry.clear()})
        return _json({"faults": registry.views()})

    return [Route("/_simulator/faults", faults, methods=["GET", "POST", "DELETE"])]


def _json(content: Any, status: int = 200) -> Response:
    # Not delivery.json_response: delivery imports this module for the fault types.
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def _invalid(error: FaultSpecError) -> Response:
    envelope = {"message": error.message, "type": "invalid_request_error"}
    body = {"error": {**envelope, "param": error.param, "code": "invalid_fault"}}
    return _json(body, 400)


def _action(body: Mapping[str, Any], name: str) -> Action:
    if name == "status":
        status = body["status"]
        if not _is_int(status) or not 400 <= status <= 599:
            raise FaultSpecError("'status' must be an HTTP error status, 400-599.", "status")
        code = body.get("code")
        if code is not None and not isinstance(code, str):
            raise FaultSpecError("'code' must be a string.", "code")
        return StatusFault(status, code, _number(body, "retry_after", minimum=0.0))
    if name == "hang":
        if body["hang"] is not True:
            raise FaultSpecError("'hang' must be true (or left out).", "hang")
        return HangFault()
    after = body[name]
    if not _is_int(after) or after < 0:
        raise FaultSpecError(f"'{name}' must be an integer >= 0.", name)
    return BreakFault(BREAK_FIELDS[name], after)


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python; JSON true is not a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _number(
    body: Mapping[str, Any], name: str, *, minimum: float, exclusive: bool = False
) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"'{name}' must be a number.", name)
    if value < minimum or (exclusive and value == minimum):
        relation = ">" if exclusive else ">="
        raise FaultSpecError(f"'{name}' must be {relation} {minimum:g}.", name)
    return float(value)
