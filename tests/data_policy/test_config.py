"""Data policies in the config file: a value that cannot be a policy is a `ConfigError` naming
where it is; `[data_policies]` names only providers there are (a misspelt one would leave the
published policy standing unnoticed); and what is configured — per endpoint, per provider
name or kind, per model, per deployment — lies over the built-in providers' published
defaults, field by field, as the answers' `X-RoutePlex-Data-Policy` header then says."""

from __future__ import annotations

from pathlib import Path

import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import load_settings
from routeplex_gateway.config_problems import ConfigError
from routeplex_gateway.routing.catalog import build_catalog
from tests.conftest import assert_nothing_sent_was_stored
from tests.data_policy.conftest import HEADER, PolicyGateway, chat
from tests.support.servers import serve_in_thread

ENDPOINT = '[[providers]]\nname = "eu"\nbase_url = "http://127.0.0.1:9/v1"\n'


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (
            ENDPOINT + "data_policy = { retention_days = -1 }\n",
            "providers[0].data_policy.retention_days: expected at least 0",
        ),
        (
            ENDPOINT + "data_policy = { retention = 0 }\n",
            "providers[0].data_policy.retention: unknown setting; did you mean retention_days?",
        ),
        (
            ENDPOINT + 'data_policy = { regions = ["EU west"] }\n',
            "providers[0].data_policy.regions: a region is a short code",
        ),
        (
            '[data_policies]\nopenai = { regions = ["e"] }\n',
            "data_policies.openai.regions: a region is a short code",
        ),
        (
            '[data_policies]\nopenai = { trains_on_data = "sometimes" }\n',
            "data_policies.openai.trains_on_data: expected true or false",
        ),
        (
            "[models.gpt-4o]\ndata_policy = { retention_days = 1.5 }\n",
            "models.gpt-4o.data_policy.retention_days: expected an integer",
        ),
        (
            '[[models.gpt-4o.deployments]]\nprovider = "openai"\n'
            'data_policy = { regions = "eu" }\n',
            "models.gpt-4o.deployments[0].data_policy.regions: expected a list",
        ),
        # Strict: no privacy claim is read out of a value of another type.
        (
            "[data_policies]\nopenai = { retention_days = false }\n",
            "data_policies.openai.retention_days: expected an integer",
        ),
        (
            '[data_policies]\nopenai = { retention_days = "0" }\n',
            "data_policies.openai.retention_days: expected an integer",
        ),
        (
            '[data_policies]\nopenai = { trains_on_data = "no" }\n',
            "data_policies.openai.trains_on_data: expected true or false",
        ),
        (
            "[data_policies]\nopenai = { regions = [] }\n",
            "data_policies.openai.regions:",
        ),
        (
            "[data_policies]\nopneai = { trains_on_data = true }\n",
            "data_policies: 'opneai' is neither a built-in provider",
        ),
        (
            '[data_policies.openai]\nregions = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8",'
            ' "a9", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"]\n',
            "data_policies.openai.regions: at most 16 regions",
        ),
    ],
)
def test_a_bad_policy_is_a_config_error_naming_it(tmp_path: Path, toml: str, problem: str) -> None:
    config = tmp_path / "routeplex.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(config, make_data_dir=False)
    assert str(error.value).startswith(f"{config}: {problem}")


def labels(toml: str, tmp_path: Path) -> dict[str, str]:
    """Each deployment's policy label, by deployment id, of the catalog `toml` configures
    (every built-in provider present, as in simulated mode)."""
    config = tmp_path / "routeplex.toml"
    config.write_text(toml)
    catalog = build_catalog(load_settings(config, make_data_dir=False), "http://127.0.0.1:9")
    return {d.id: d.data_policy_label for m in catalog.models.values() for d in m.deployments}


def test_configured_policies_lie_over_the_published_ones_field_by_field(tmp_path: Path) -> None:
    found = labels(
        ENDPOINT
        + 'models = ["m"]\ndata_policy = { retention_days = 7, regions = ["eu"] }\n'
        + '[[providers]]\nname = "unknown"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m"]\n'
        + "[data_policies]\n"
        # A built-in by its name: the training it publishes stays.
        + 'openai = { retention_days = 0, regions = ["eu"] }\n'
        # A built-in by its kind (Google's endpoint is named `google`).
        + "gemini = { trains_on_data = false }\n"
        # A configured endpoint by its name, over its own `data_policy`.
        + "eu = { retention_days = 0 }\n"
        + '[models."gpt-4o"]\ndata_policy = { regions = ["us"] }\n'
        + '[[models."gpt-4o".deployments]]\nprovider = "eu"\nupstream_model = "gpt-4o-eu"\n'
        + '[[models."gpt-4o".deployments]]\nprovider = "openai"\nupstream_model = "gpt-4o-x"\n'
        + "data_policy = { retention_days = 30, trains_on_data = true }\n",
        tmp_path,
    )
    assert found["openai:gpt-4o-mini"] == "retention-days=0, training=no, region=eu"
    assert found["google:gemini-2.5-flash"] == "retention-days=55, training=no, region=global"
    assert found["anthropic:claude-haiku-4-5"] == "retention-days=30, training=no, region=global"
    assert found["eu:m"] == "retention-days=0, training=unknown, region=eu"
    assert found["unknown:m"] == "retention-days=unknown, training=unknown, region=unknown"
    # A model's own policy is over its endpoint's for its own deployment ...
    assert found["openai:gpt-4o"] == "retention-days=0, training=no, region=us"
    # ... and an extra deployment's over its endpoint's.
    assert found["eu:gpt-4o-eu"] == "retention-days=0, training=unknown, region=eu"
    assert found["openai:gpt-4o-x"] == "retention-days=30, training=yes, region=eu"


def test_a_data_policies_override_changes_what_answers_and_what_complies(
    tmp_path: Path, simulator_url: str
) -> None:
    config = tmp_path / "routeplex.toml"
    config.write_text('[data_policies]\nopenai = { retention_days = 0, regions = ["eu"] }\n')
    data_dir = tmp_path / "data"
    settings = load_settings(config, data_dir=data_dir, recorder_flush_s=0.05)
    running = PolicyGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    with (
        serve_in_thread(
            create_app(settings, simulator_url=simulator_url), settings=settings
        ) as url,
        running.http,
    ):
        running.url = url
        key = running.account("override")
        required = "zero-retention, no-training, region=eu"
        reply = chat(running, key, "gpt-4o-mini", policy=required)
        assert reply.status_code == 200, reply.text
        assert reply.headers[HEADER] == "retention-days=0, training=no, region=eu"
        # Anthropic's published policy is untouched, so it still does not comply.
        refused = chat(running, key, "claude-haiku-4-5", policy=required)
        assert refused.status_code == 403
        assert "zero-retention" in refused.json()["error"]["message"]
    assert_nothing_sent_was_stored(running)
