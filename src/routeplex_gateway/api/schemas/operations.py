"""What the operational endpoints answer: liveness (`/health`) and readiness (`/ready`)."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict


class Root(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    service: Literal["RoutePlex"]
    description: str
    dashboard: str


class Liveness(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    status: Literal["ok"]


class Readiness(TypedDict):
    """Ready or not; the reasons and the rest are given to an admin key only."""

    status: Literal["ready", "not_ready"]
    reasons: NotRequired[
        list[
            Literal[
                "shutting_down",
                "database_unreachable",
                "redis_unreachable",
                "background_loop_failing",
                "metadata_buffer_full",
            ]
        ]
    ]
    failing_loops: NotRequired[
        Annotated[
            list[Literal["key-refresh", "session-refresh", "metadata-writer", "retention"]],
            Field(description="Background loops whose last run ended in an unexpected error."),
        ]
    ]
    pid: NotRequired[int]
    simulated: NotRequired[bool]
    metadata_pending: NotRequired[int]
