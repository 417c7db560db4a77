"""`routeplex accounts update|list` and `routeplex keys create|update|list` with data-policy
requirements, run as a user would: a real process, real output, and a running gateway that
holds keys to what the commands stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from routeplex_gateway.app import create_app
from tests.conftest import gateway_settings
from tests.support.servers import serve_in_thread
from tests.test_cli import run


def _account(data_dir: Path, name: str) -> dict[str, object]:
    listed = run(["accounts", "list", "--json"], data_dir)
    assert listed.returncode == 0, listed.stderr
    return next(a for a in json.loads(listed.stdout) if a["name"] == name)


def _update(data_dir: Path, *flags: str) -> str:
    result = run(["accounts", "update", "acme", *flags], data_dir)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_accounts_update_adds_conditions_replaces_regions_and_clears(tmp_path: Path) -> None:
    assert run(["accounts", "create", "acme"], tmp_path).returncode == 0
    assert _account(tmp_path, "acme")["data_policy"] is None

    out = _update(tmp_path, "--require-zero-retention", "--regions", "eu,us")
    assert "data policy zero-retention, region=eu, region=us." in out
    # A flag adds its condition to what is there; --regions replaces the regions.
    out = _update(tmp_path, "--no-training", "--regions", " EU ")
    assert "data policy zero-retention, no-training, region=eu." in out
    assert _account(tmp_path, "acme")["data_policy"] == {
        "zero_retention": True,
        "no_training": True,
        "regions": ["eu"],
    }
    # Other changes keep it.
    assert "zero-retention, no-training, region=eu" in _update(tmp_path, "--plan", "usage")
    table = run(["accounts", "list"], tmp_path).stdout
    assert "data policy" in table and "zero-retention, no-training, region=eu" in table

    # Cleared first, then the flags given apply.
    assert "data policy no-training." in _update(tmp_path, "--clear-data-policy", "--no-training")
    assert "data policy none." in _update(tmp_path, "--clear-data-policy")
    assert _account(tmp_path, "acme")["data_policy"] is None


def test_bad_regions_are_refused_in_one_line(tmp_path: Path) -> None:
    assert run(["accounts", "create", "acme"], tmp_path).returncode == 0
    _update(tmp_path, "--no-training")
    for regions in ("eu,not a region", "", " , ", ",".join(f"r{i}x" for i in range(17))):
        for args in (
            ["accounts", "update", "acme", "--require-zero-retention", "--regions", regions],
            ["keys", "create", "--account", "acme", "--regions", regions],
        ):
            refused = run(args, tmp_path)
            assert refused.returncode == 1, (args, refused.stdout)
            assert refused.stderr.startswith("Bad --regions: ") and refused.stderr.count("\n") == 1
            assert "Traceback" not in refused.stderr
    # Nothing was changed, and no key was made.
    assert _account(tmp_path, "acme")["data_policy"]["zero_retention"] is False  # type: ignore[index]
    assert json.loads(run(["keys", "list", "--account", "acme", "--json"], tmp_path).stdout) == []


def test_keys_create_and_update_their_own_requirement(tmp_path: Path) -> None:
    assert run(["accounts", "create", "acme"], tmp_path).returncode == 0
    _update(tmp_path, "--no-training")
    made = run(
        [
            "keys",
            "create",
            "--account",
            "acme",
            "--require-zero-retention",
            "--regions",
            "eu",
            "--json",
        ],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["data_policy"] == {"zero_retention": True, "no_training": False, "regions": ["eu"]}
    plain = run(["keys", "list", "--account", "acme"], tmp_path).stdout
    assert "zero-retention, region=eu" in plain

    updated = run(["keys", "update", key["id"], "--account", "acme", "--regions", "us"], tmp_path)
    assert updated.returncode == 0, updated.stderr
    # Its own, and what its requests carry once combined with the account's.
    assert "data policy zero-retention, region=us;" in updated.stdout
    assert "require zero-retention, no-training, region=us." in updated.stdout
    listed = json.loads(run(["keys", "list", "--account", "acme", "--json"], tmp_path).stdout)
    assert listed[0]["data_policy"]["regions"] == ["us"]

    cleared = run(
        ["keys", "update", key["id"], "--account", "acme", "--clear-data-policy"], tmp_path
    )
    assert "data policy none;" in cleared.stdout and "require no-training." in cleared.stdout

    nothing = run(["keys", "update", key["id"], "--account", "acme"], tmp_path)
    assert nothing.returncode == 2 and "Nothing to change" in nothing.stderr
    assert run(["accounts", "create", "other"], tmp_path).returncode == 0
    elsewhere = run(["keys", "update", key["id"], "--account", "other", "--no-training"], tmp_path)
    assert elsewhere.returncode == 1 and "No key" in elsewhere.stderr


def test_a_running_gateway_holds_keys_to_what_the_commands_store(
    tmp_path: Path, simulator_url: str
) -> None:
    assert run(["accounts", "create", "acme"], tmp_path).returncode == 0
    key = json.loads(run(["keys", "create", "--account", "acme", "--json"], tmp_path).stdout)
    settings = gateway_settings(tmp_path)
    ask = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "canary: cli"}],
        "max_tokens": 5,
    }
    headers = {"Authorization": f"Bearer {key['key']}"}
    with serve_in_thread(
        create_app(settings, simulator_url=simulator_url), settings=settings
    ) as url:

        def status() -> httpx.Response:
            return httpx.post(f"{url}/api/v1/chat", headers=headers, json=ask, timeout=10)

        assert status().status_code == 200
        # Another process changed it: this gateway applies it within a key refresh (0.5 s).
        _update(tmp_path, "--require-zero-retention")
        deadline = time.monotonic() + 5
        while (answer := status()).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answer.status_code == 403
        assert answer.json()["error"]["details"]["reason"] == "data_policy"
