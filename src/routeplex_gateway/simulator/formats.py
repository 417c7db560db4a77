"""The wire formats the simulator serves, by name: each one's routes, and the base URL a
provider of that format is given to reach them.

A provider descriptor names the format that stands in for it (`simulator_format`); simulated
mode points the provider at `base_url(simulator_url, format)`. Adding a format means its
routes module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import Route

from routeplex_gateway.simulator.anthropic_endpoints import anthropic_routes
from routeplex_gateway.simulator.gemini_endpoints import gemini_routes
from routeplex_gateway.simulator.openai_embeddings import embedding_routes
from routeplex_gateway.simulator.openai_endpoints import openai_routes
from routeplex_gateway.simulator.openai_responses_endpoints import responses_routes
from routeplex_gateway.simulator.state import Simulator


@dataclass(frozen=True, slots=True)
class Format:
    # What a provider's base URL adds to the simulator's: OpenAI's base URL includes its
    # version prefix, the others add theirs per call.
    base_path: str
    routes: Callable[[Simulator], list[Route]]


def _openai_routes(sim: Simulator) -> list[Route]:
    # One provider, three APIs under one base URL: Chat Completions, Responses, Embeddings.
    return [*openai_routes(sim), *responses_routes(sim), *embedding_routes(sim)]


FORMATS: dict[str, Format] = {
    "openai": Format("/v1", _openai_routes),
    "anthropic": Format("", anthropic_routes),
    "gemini": Format("", gemini_routes),
}


def base_url(simulator_url: str, name: str) -> str:
    """The base URL that reaches format `name` on the simulator at `simulator_url`."""
    return f"{simulator_url.rstrip('/')}{FORMATS[name].base_path}"
