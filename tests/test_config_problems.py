"""A configuration mistake, as a newcomer meets it: the `routeplex` command prints one line
naming the file (or variable) and the key, exits 2, and shows no traceback.

The real command runs as a process where the environment or the terminal matter; the many
file cases call its entry point, `main()`, in this process (a process costs seconds here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from routeplex_gateway.cli import main

ROUTEPLEX = str(Path(sys.executable).with_name("routeplex"))

# Every command that loads settings, with the arguments it needs to get that far.
COMMANDS = [
    ["serve"],
    ["migrate"],
    ["retention", "run"],
    ["accounts", "create", "acme"],
    ["accounts", "update", "acme", "--plan", "usage"],
    ["accounts", "list"],
    ["keys", "create", "--account", "acme"],
    ["keys", "list", "--account", "acme"],
    ["keys", "revoke", "key_x"],
    ["admin", "create-key"],
    ["admin", "list-keys"],
    ["admin", "revoke-key", "adm_x"],
    ["usage"],
    ["privacy-audit"],
]


def routeplex(
    args: list[str], cwd: Path, config: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    if config is not None:
        (cwd / "routeplex.toml").write_text(config)
        args = [*args, "--config", "routeplex.toml"]
    # None of the caller's own settings leak in; a narrow terminal would show any wrapping.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")}
    return subprocess.run(
        [ROUTEPLEX, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, "ROUTEPLEX_DATA_DIR": str(cwd / "data"), "COLUMNS": "40", **env},
    )


def entry_point(
    args: list[str],
    cwd: Path,
    config: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> subprocess.CompletedProcess[str]:
    """`routeplex ARGS --config routeplex.toml` through `main()`, as the script calls it."""
    (cwd / "routeplex.toml").write_text(config)
    for name in [k for k in os.environ if k.startswith("ROUTEPLEX_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ROUTEPLEX_DATA_DIR", str(cwd / "data"))
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["routeplex", *args, "--config", "routeplex.toml"])
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # Typer replaces it
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, exited.value.code, out, err)


def assert_refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert "Traceback" not in result.stderr
    assert result.stderr == line + "\n"
    assert result.returncode == 2
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("config", "line"),
    [
        ("prot = 8082\n", "routeplex.toml: prot: unknown setting; did you mean port?"),
        ('port = "abc"\n', "routeplex.toml: port: expected an integer"),
        ("port = 70000\n", "routeplex.toml: port: expected at most 65535"),
        ("port = 8082\nhost = \n", "routeplex.toml:2:8: invalid TOML: Invalid value"),
        (
            'log_level = "loud"\n',
            "routeplex.toml: log_level: expected one of 'debug', 'info', 'warning' or 'error'",
        ),
        (
            '[[providers]]\nname = "groq"\nbse_url = "http://127.0.0.1:9/v1"\n',
            "routeplex.toml: providers[0].bse_url: unknown setting; did you mean base_url?",
        ),
        (
            '[[providers]]\nname = "groq"\n',
            "routeplex.toml: providers[0].base_url: missing (required)",
        ),
        (
            '[models."openai/gpt-4o"]\ninput_per_mtk = "2.5"\n',
            'routeplex.toml: models."openai/gpt-4o".input_per_mtk: unknown setting; '
            "did you mean input_per_mtok?",
        ),
        (
            '[models.gpt-4o]\ntier = "gold"\n',
            "routeplex.toml: models.gpt-4o.tier: expected one of 'default' or 'premium'",
        ),
        (
            '[[models.gpt-4o.deployments]]\nprovder = "groq"\n',
            "routeplex.toml: models.gpt-4o.deployments[0].provder: unknown setting; "
            "did you mean provider?",
        ),
        ('[plans.team]\nrpm = "many"\n', "routeplex.toml: plans.team.rpm: expected an integer"),
    ],
)
def test_a_mistake_in_the_file_is_one_line(
    tmp_path: Path,
    config: str,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_refused(entry_point(["migrate"], tmp_path, config, monkeypatch, capsys), line)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_that_loads_settings_refuses_the_same_way(
    tmp_path: Path,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = entry_point(command, tmp_path, "prot = 8082\n", monkeypatch, capsys)
    assert_refused(result, "routeplex.toml: prot: unknown setting; did you mean port?")
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_the_real_command_refuses_a_bad_file(tmp_path: Path) -> None:
    result = routeplex(["serve"], tmp_path, 'port = "abc"\n')
    assert_refused(result, "routeplex.toml: port: expected an integer")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = routeplex(["serve", "--config", "nowhere.toml"], tmp_path)
    assert_refused(result, "nowhere.toml: cannot read it (No such file or directory)")


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"ROUTEPLEX_PORT": "abc"}, "ROUTEPLEX_PORT: expected an integer"),
        ({"ROUTEPLEX_SIMULATE": "maybe"}, "ROUTEPLEX_SIMULATE: expected true or false"),
        ({"ROUTEPLEX_PLANS": "team"}, "ROUTEPLEX_PLANS: expected JSON"),
        (
            {"ROUTEPLEX_PLANS": '{"team": {"rpmm": 5}}'},
            "ROUTEPLEX_PLANS: team.rpmm: unknown setting",
        ),
    ],
)
def test_a_bad_variable_is_named(tmp_path: Path, env: dict[str, str], line: str) -> None:
    assert_refused(routeplex(["serve"], tmp_path, **env), line)


def test_the_variable_is_blamed_when_it_overrides_a_good_file(tmp_path: Path) -> None:
    result = routeplex(["serve"], tmp_path, "port = 8082\n", ROUTEPLEX_PORT="abc")
    assert_refused(result, "ROUTEPLEX_PORT: expected an integer")


def test_a_bad_flag_is_named(tmp_path: Path) -> None:
    assert_refused(
        routeplex(["serve", "--port", "70000"], tmp_path), "--port: expected at most 65535"
    )


def test_a_file_using_every_table_is_accepted(tmp_path: Path) -> None:
    config = """
port = 8082
OPENAI_API_KEY = "sk-test"
[[providers]]
name = "groq"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "GROQ_API_KEY"
models = ["llama-3.1-8b-instant"]
timeout_s = 30
weight = 2
[models."gpt-4o-mini"]
tier = "premium"
aliases = ["mini"]
capabilities = { tools = true }
fallbacks = ["gpt-4o"]
input_per_mtok = "0.15"
[[models."gpt-4o-mini".deployments]]
provider = "groq"
upstream_model = "llama-3.1-8b-instant"
weight = 3
[plans.team]
tokens_per_day = 1000000
cost_per_day_usd = "5"
rpm = 60
concurrency = 4
binding = true
"""
    result = routeplex(["accounts", "create", "acme", "--plan", "team"], tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert "on plan team" in result.stdout
