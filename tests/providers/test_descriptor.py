"""A provider is one module plus one descriptor: a provider added that way (here, in the
test) is configured by its own variables, deployed, reached and explained with no other
change; each built-in sends its key as its descriptor says; and no module outside the
providers (and the simulator that stands in for them) names a built-in provider."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import openai
import pytest

import routeplex_gateway
from routeplex_gateway.app import create_app
from routeplex_gateway.canonical import (
    ChatRequest,
    ChatResponse,
    ChatStream,
    Deployment,
    Text,
    Usage,
)
from routeplex_gateway.config import Settings, load_settings
from routeplex_gateway.config_problems import ConfigError
from routeplex_gateway.providers import Auth, Descriptor, builtin, by_kind, descriptor
from routeplex_gateway.routing import catalog
from routeplex_gateway.routing.catalog import build_catalog
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread


class AcmeProvider:
    """A new provider's module, as small as one can be: its API is OpenAI's, non-streamed."""

    kind = "acme"

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        acme = by_kind(self.kind)
        assert acme is not None
        # Its wire format, from the typed request: plain text turns are all Acme takes.
        messages = [{"role": m.role, "content": m.text()} for m in request.messages]
        body = {"model": deployment.upstream_model, "messages": messages, "stream": False}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{deployment.base_url}/chat/completions",
                json=body,
                headers=acme.auth.headers(deployment.api_key),
            ) as response,
        ):
            data: dict[str, Any] = await response.json()
        usage, choice = data["usage"], data["choices"][0]
        return ChatResponse(
            id=data["id"],
            model=data["model"],
            parts=[Text(choice["message"]["content"])],
            finish_reason=choice["finish_reason"],
            usage=Usage(
                input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"]
            ),
            wire="acme",
        )

    async def stream(self, request: ChatRequest, deployment: Deployment) -> ChatStream:
        raise NotImplementedError

    async def close(self) -> None:
        pass


ACME = Descriptor(
    kind="acme",
    name="acme",
    key_env="ACME_API_KEY",
    base_url_env="ACME_BASE_URL",
    default_base_url="https://api.acme.invalid/v1",
    auth=Auth.BEARER,
    pricing_id=None,
    simulator_format="openai",
    make=AcmeProvider,
)
# What its entry in routing/models.toml would say.
ACME_MODEL = {
    "display_name": "Acme One",
    "provider": "acme",
    "tier": "default",
    "context_window": 8192,
    "max_output_tokens": 1024,
    "capabilities": {"streaming": False},
}


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry and the models file with Acme added; no provider's variables set."""
    for known in (*builtin(), ACME):
        for name in (known.key_env, known.base_url_env):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(descriptor, "BUILTIN", (*descriptor.BUILTIN, ACME))
    shipped = catalog._shipped
    monkeypatch.setattr(catalog, "_shipped", lambda: {**shipped(), "acme-1": ACME_MODEL})
    yield


@pytest.mark.usefixtures("acme")
def test_an_added_descriptor_is_configured_deployed_and_reached(
    tmp_path: Path, simulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_API_KEY", "sk-acme")
    monkeypatch.setenv("ACME_BASE_URL", f"{simulator_url}/v1")
    settings = gateway_settings(tmp_path)
    assert settings.has_provider_credentials
    key = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        listed = {m.id: m.owned_by for m in client.models.list()}
        assert listed["acme-1"] == "acme"
        assert "gpt-4o-mini" not in listed  # no other provider is configured
        reply = client.chat.completions.create(
            model="acme-1", messages=[{"role": "user", "content": "Hello"}]
        )
        assert reply.choices[0].message.content
        assert reply.usage is not None and reply.usage.completion_tokens > 0
    seen = httpx.get(f"{simulator_url}/_simulator/requests").json()["requests"]
    upstream = [r for r in seen if (r["body"] or {}).get("model") == "acme-1"][-1]
    assert (upstream["path"], upstream["auth_header"]) == ("/v1/chat/completions", "authorization")


@pytest.mark.usefixtures("acme")
def test_an_added_descriptor_has_simulated_mode_and_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [deployment] = build_catalog(Settings(), "http://127.0.0.1:9").models["acme-1"].deployments
    assert (deployment.kind, deployment.base_url) == ("acme", "http://127.0.0.1:9/v1")
    # Its settings in the file, and its kind in a [[providers]] table.
    config = tmp_path / "routeplex.toml"
    config.write_text(
        'acme_api_key = "sk-file"\n[[providers]]\nname = "acme-eu"\nkind = "acme"\n'
        'base_url = "http://127.0.0.1:9/v1"\n'
    )
    settings = load_settings(config, data_dir=tmp_path)
    [deployment] = build_catalog(settings).models["acme-1"].deployments
    assert (deployment.base_url, deployment.api_key) == (ACME.default_base_url, "sk-file")
    assert settings.providers[0].kind == "acme"
    # A mistake in its variable is explained as any other.
    monkeypatch.setenv("ACME_BASE_URL", "api.acme.invalid")
    with pytest.raises(ConfigError) as refused:
        load_settings(config, data_dir=tmp_path)
    assert str(refused.value) == "ACME_BASE_URL: expected a URL starting http:// or https://"


@pytest.mark.parametrize("provider", builtin(), ids=lambda d: d.kind)
def test_each_builtin_sends_its_key_as_its_descriptor_says(
    gateway: RunningGateway, provider: Descriptor
) -> None:
    served = build_catalog(Settings(), gateway.simulator_url).models.values()
    model = next(m.id for m in served if m.provider == provider.name)
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["alice"])
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
    seen = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()["requests"]
    upstream = [r for r in seen if model in r["path"] or (r["body"] or {}).get("model") == model][
        -1
    ]
    assert upstream["auth_header"] == provider.auth.value


# Where a provider may be named: its own modules, the simulator standing in for it, an API
# surface that speaks its format (`api/openai.py`, `api/anthropic.py` and its `anthropic_*`
# modules), and (not Python) the catalog's data.
_OWNERS = ("providers/", "simulator/")
_NOT_YET: set[tuple[str, str]] = set()


def _owner(module: str) -> bool:
    stem = Path(module).stem.split("_")[0]
    surface = module.startswith("api/") and stem in {d.kind for d in builtin()}
    return surface or module.startswith(_OWNERS)


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = (n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef))
    functions = (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    found = set()
    for node in (*nodes, *functions):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
    return found


def _mentions(source: str) -> set[str]:
    """The built-in providers' kinds, names, variables and settings a module's code names
    (prose — docstrings, comments — may)."""
    names = {name for d in builtin() for name in (d.kind, d.name)}
    variables = {v for d in builtin() for v in (d.key_env, d.base_url_env)}
    settings = {s for d in builtin() for s in d.settings}
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            found |= {node.value} & names
            found |= {v for v in variables | settings if v in node.value}
        elif isinstance(node, ast.Attribute) and node.attr in settings:
            found.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg in settings:
            found.add(node.arg)
    return found


def test_no_module_outside_the_providers_names_one() -> None:
    package = Path(routeplex_gateway.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        if _owner(module):
            continue
        for name in sorted(_mentions(path.read_text())):
            if (module, name) not in _NOT_YET:
                offenders.append(f"{module}: {name}")
    assert offenders == []


def test_the_scan_finds_a_provider_named_in_code() -> None:
    assert _mentions('"""Set OPENAI_API_KEY."""\nx = {"gemini": 1}') == {"gemini"}
    assert _mentions("key = settings.anthropic_api_key") == {"anthropic_api_key"}
    assert _mentions('print("Set OPENAI_API_KEY")') == {"OPENAI_API_KEY"}
