"""The upstream simulator: a real HTTP server that stands in for LLM providers.

Tests, the demo and the benchmark talk to it instead of real providers (there is no internet
where RoutePlex is tested). It owns:

* provider wire formats. A format is three small modules: `<provider>_format.py` (bodies,
  SSE chunks, error bodies), `<provider>_request.py` (validation, the request as answer
  specs) and `<provider>_endpoints.py` (auth, routes), plus one entry in `formats.py`. Today:
  OpenAI Chat Completions and Responses, Anthropic Messages and Gemini `generateContent`,
  on one port.
* deterministic, format-independent answers and token counts (`answer.py`,
  `schema_values.py`);
* injectable faults — status errors, latency, hangs, cut / malformed / stalled streams —
  controlled over HTTP at `/_simulator/faults` (`faults.py`, delivered by `delivery.py`);
* for test tools only (`routeplex simulate`, the test suite), an in-memory log of the last
  request bodies at `/_simulator/requests` (`request_log.py`), so tests can check what the
  gateway passed through; the simulator `routeplex serve` starts keeps none.

`create_simulator_app()` builds the ASGI app; `serve_simulator()` (in `server.py`) runs it.
"""

from routeplex_gateway.simulator.app import create_simulator_app

__all__ = ["create_simulator_app"]
