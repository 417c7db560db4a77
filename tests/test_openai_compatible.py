"""An OpenAI-compatible server (vLLM, Ollama, Groq…) is served by configuration alone:
a TOML file naming a base URL, a key and a model list."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai

from routeplex_gateway.app import create_app
from routeplex_gateway.config import load_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread


def test_config_file_provider_serves_its_models(tmp_path: Path, simulator_url: str) -> None:
    config = tmp_path / "routeplex.toml"
    config.write_text(f"""
data_dir = "{tmp_path / "data"}"
recorder_flush_s = 0.05

[[providers]]
name = "local"
kind = "openai"
base_url = "{simulator_url}/v1"
api_key = "sk-local"
models = ["llama-3.1-8b-instruct"]

[models."local/llama-3.1-8b-instruct"]
input_per_mtok = "0.05"
output_per_mtok = "0.10"
""")
    settings = load_settings(config)
    key = create_account_with_key(settings, "ops")
    httpx.delete(f"{simulator_url}/_simulator/requests")
    with serve_in_thread(create_app(settings)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        assert "local/llama-3.1-8b-instruct" in [m.id for m in client.models.list()]
        # Shipped OpenAI models have no deployment here: no OpenAI credentials were given.
        assert "gpt-4o-mini" not in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(
            model="local/llama-3.1-8b-instruct", messages=[{"role": "user", "content": "hello"}]
        )
        extra = reply.model_dump()["x_routeplex"]
        assert extra["provider"] == "local"
        assert extra["model_used"] == "local/llama-3.1-8b-instruct"
        usage = reply.usage
        assert usage is not None
        expected = (usage.prompt_tokens * 0.05 + usage.completion_tokens * 0.10) / 1e6
        assert abs(extra["cost_usd"] - expected) < 1e-12
    seen = httpx.get(f"{simulator_url}/_simulator/requests").json()
    entry = seen["requests"][-1] if isinstance(seen, dict) else seen[-1]
    assert entry["body"]["model"] == "llama-3.1-8b-instruct"  # the server's own model name
