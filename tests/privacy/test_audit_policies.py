"""`routeplex privacy-audit`'s section on where prompts go, run as an operator would: every
configured deployment whose data policy has unknown fields is named with the fields (the
built-in providers' published gaps, an OpenAI-compatible server's whole policy), operators'
`data_policy` settings close them, and unknown policies never change the exit status — only
content found in the stores does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from routeplex_gateway.config import Settings
from tests.privacy.test_audit import PLANTED
from tests.support.accounts import create_account_with_key
from tests.test_cli import ROUTEPLEX

PROVIDER_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
GROQ = """
[[providers]]
name = "groq"
base_url = "https://api.groq.com/openai/v1"
api_key = "gsk-test"
models = ["llama-3.1-8b-instant"]
"""


def audit(
    data_dir: Path, config: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The audit in a process of its own, with only the provider keys the test gives it."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ROUTEPLEX_") and k not in PROVIDER_VARIABLES
    }
    base["ROUTEPLEX_DATA_DIR"] = str(data_dir)
    if config is not None:
        path = data_dir.parent / "routeplex.toml"
        path.write_text(config)
        base["ROUTEPLEX_CONFIG"] = str(path)
    return subprocess.run(
        [ROUTEPLEX, "privacy-audit"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**base, **env},
    )


def _section(stdout: str) -> list[str]:
    return stdout[stdout.index("Where prompts go") :].splitlines()


def _gaps(stdout: str) -> dict[str, str]:
    """Each listed deployment's line, by model id."""
    return {line.split()[1]: line for line in _section(stdout) if line.startswith("  - ")}


def test_unknown_fields_are_named_per_deployment_and_do_not_fail(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_account_with_key(Settings(data_dir=data), "acme")
    config = GROQ + '\n[models."gpt-4o"]\ndata_policy = { regions = ["us"] }\n'
    result = audit(data, config, OPENAI_API_KEY="sk-test", GEMINI_API_KEY="g-test")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Nothing looks like request content." in result.stdout
    gaps = _gaps(result.stdout)
    # An OpenAI-compatible server publishes nothing here: all of it is unknown.
    assert gaps["groq/llama-3.1-8b-instant"] == (
        "  - groq/llama-3.1-8b-instant (groq, deployment groq:llama-3.1-8b-instant): "
        "unknown retention_days, trains_on_data, regions"
    )
    # OpenAI publishes no default region; Google's training depends on the billing tier.
    assert gaps["gpt-4o-mini"].endswith("(openai, deployment openai:gpt-4o-mini): unknown regions")
    assert gaps["gemini-2.0-flash"].endswith(
        "(google, deployment google:gemini-2.0-flash): unknown trains_on_data"
    )
    # Anthropic's key is not set: its models have no deployment to report.
    assert not any(model.startswith("claude") for model in gaps)
    # The one deployment the configuration completed is counted, not listed.
    assert "gpt-4o" not in gaps
    assert "1 deployment(s) with a fully known data policy." in _section(result.stdout)
    assert f"{len(gaps)} deployment(s) with unknown fields" in result.stdout


def test_configured_policies_close_the_gaps(tmp_path: Path) -> None:
    config = GROQ + (
        "\n[data_policies]\n"
        'openai = { regions = ["us"] }\n'
        "gemini = { trains_on_data = false }\n"  # a built-in named by its kind
        'groq = { retention_days = 0, trains_on_data = false, regions = ["eu"] }\n'
    )
    result = audit(tmp_path / "data", config, OPENAI_API_KEY="sk-test", GEMINI_API_KEY="g")

    assert result.returncode == 0, result.stdout + result.stderr
    section = _section(result.stdout)
    assert "No deployment has an unknown data-policy field." in section
    assert _gaps(result.stdout) == {}
    known = int(section[1].split()[0])
    with_openai_only = audit(tmp_path / "data", None, OPENAI_API_KEY="sk-test")
    openai_gaps = len(_gaps(with_openai_only.stdout))
    assert openai_gaps > 0 and known > openai_gaps  # Google's and groq's deployments too


def test_without_providers_there_is_nothing_to_report(tmp_path: Path) -> None:
    result = audit(tmp_path / "none")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No provider is configured: there is no deployment to report." in result.stdout
    assert not (tmp_path / "none").exists()


def test_content_still_fails_the_audit_with_the_section_printed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_account_with_key(Settings(data_dir=data), "acme")
    with sqlite3.connect(data / "routeplex.db") as db:
        db.execute("UPDATE api_keys SET name = ?", (PLANTED,))
    result = audit(data, GROQ)
    assert result.returncode == 1, result.stdout
    assert "api_keys.name (id=key_" in result.stdout
    assert "groq/llama-3.1-8b-instant" in _gaps(result.stdout)
    assert "medical" not in result.stdout + result.stderr
