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
from routeplex_gateway.config import load_settings
from routeplex_gateway.config_problems import ConfigError

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
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`routeplex ARGS --config routeplex.toml` through `main()`, as the script calls it."""
    (cwd / "routeplex.toml").write_text(config)
    for name in [k for k in os.environ if k.startswith(("ROUTEPLEX_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    for name, value in {"ROUTEPLEX_DATA_DIR": str(cwd / "data"), **env}.items():
        monkeypatch.setenv(name, value)
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
        # A mistake tomllib finds only at the end of the file is the last line's.
        (
            'port = 8082\n[models.gpt-4o]\naliases = [\n  "four"\n',
            "routeplex.toml:4: invalid TOML: Unclosed array at the end of the file",
        ),
        ('host = ""\n', "routeplex.toml: host: expected a non-empty string"),
        ("shutdown_grace_s = -5\n", "routeplex.toml: shutdown_grace_s: expected at least 0"),
        (
            "upstream_timeout_s = nan\n",
            "routeplex.toml: upstream_timeout_s: expected a finite number",
        ),
        ("key_refresh_s = inf\n", "routeplex.toml: key_refresh_s: expected a finite number"),
        ("recorder_flush_s = 0\n", "routeplex.toml: recorder_flush_s: expected more than 0"),
        ("max_body_bytes = 0\n", "routeplex.toml: max_body_bytes: expected at least 1"),
        (
            'redis_url = "localhost:6379"\n',
            "routeplex.toml: redis_url: expected a URL starting redis://, rediss:// or unix://",
        ),
        (
            '[[providers]]\nname = "groq"\nbase_url = "127.0.0.1:9/v1"\n',
            "routeplex.toml: providers[0].base_url: expected a URL starting http:// or https://",
        ),
        (
            '[[providers]]\nname = "groq"\nbase_url = "http://127.0.0.1:9/v1"\ntimeout_s = 0\n',
            "routeplex.toml: providers[0].timeout_s: expected more than 0",
        ),
        (
            '[models.gpt-4o]\ninput_per_mtok = "-2.5"\n',
            "routeplex.toml: models.gpt-4o.input_per_mtok: expected at least 0",
        ),
        ("[plans.team]\nrpm = -1\n", "routeplex.toml: plans.team.rpm: expected at least 0"),
        (
            '[plans.team]\ncost_per_day_usd = "NaN"\n',
            "routeplex.toml: plans.team.cost_per_day_usd: expected a finite number",
        ),
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


# Values pydantic took, which failed (or were nonsense) only later, when used.
@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"ROUTEPLEX_DATABASE_URL": "mysql://routeplex:hunter2@db/routeplex"},
            "ROUTEPLEX_DATABASE_URL: unsupported database URL scheme: "
            "use sqlite:///path or postgresql://user@host/db",
        ),
        ({"ROUTEPLEX_DATABASE_URL": "garbage"}, "ROUTEPLEX_DATABASE_URL: malformed database URL"),
        (
            {"ROUTEPLEX_REDIS_URL": "foo"},
            "ROUTEPLEX_REDIS_URL: expected a URL starting redis://, rediss:// or unix://",
        ),
        (
            {"OPENAI_BASE_URL": "api.openai.com/v1"},
            "OPENAI_BASE_URL: expected a URL starting http:// or https://",
        ),
        ({"ROUTEPLEX_HOST": ""}, "ROUTEPLEX_HOST: expected a non-empty string"),
        ({"ROUTEPLEX_SHUTDOWN_GRACE_S": "-5"}, "ROUTEPLEX_SHUTDOWN_GRACE_S: expected at least 0"),
        (
            {"ROUTEPLEX_UPSTREAM_TIMEOUT_S": "nan"},
            "ROUTEPLEX_UPSTREAM_TIMEOUT_S: expected a finite number",
        ),
        (
            {"ROUTEPLEX_RECORDER_BATCH_SIZE": "0"},
            "ROUTEPLEX_RECORDER_BATCH_SIZE: expected at least 1",
        ),
        ({"ROUTEPLEX_RECORDER_FLUSH_S": "0"}, "ROUTEPLEX_RECORDER_FLUSH_S: expected more than 0"),
        ({"ROUTEPLEX_KEY_REFRESH_S": "-1"}, "ROUTEPLEX_KEY_REFRESH_S: expected more than 0"),
        ({"ROUTEPLEX_SESSION_TTL_S": "0"}, "ROUTEPLEX_SESSION_TTL_S: expected at least 1"),
        (
            {"ROUTEPLEX_RETENTION_INTERVAL_S": "0"},
            "ROUTEPLEX_RETENTION_INTERVAL_S: expected more than 0",
        ),
        (
            {"ROUTEPLEX_METADATA_RETENTION_DAYS": "0"},
            "ROUTEPLEX_METADATA_RETENTION_DAYS: expected at least 1",
        ),
        ({"ROUTEPLEX_SIMULATOR_PORT": "-1"}, "ROUTEPLEX_SIMULATOR_PORT: expected at least 0"),
        (
            {"ROUTEPLEX_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"},
            "ROUTEPLEX_TRUSTED_PROXIES: 'proxy.internal' is not an IP address or CIDR network",
        ),
        ({"ROUTEPLEX_HEADER_TIMEOUT_S": "0"}, "ROUTEPLEX_HEADER_TIMEOUT_S: expected more than 0"),
        ({"ROUTEPLEX_MAX_CONNECTIONS": "0"}, "ROUTEPLEX_MAX_CONNECTIONS: expected at least 1"),
    ],
)
def test_a_value_that_cannot_work_is_refused_at_load(
    tmp_path: Path,
    env: dict[str, str],
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_refused(entry_point(["migrate"], tmp_path, "", monkeypatch, capsys, **env), line)


def test_a_data_dir_that_cannot_be_one_is_named_where_it_was_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inside_a_file = tmp_path / "routeplex.toml" / "data"
    reason = f"cannot use {inside_a_file} as the data directory (Not a directory)"
    variable = {"ROUTEPLEX_DATA_DIR": str(inside_a_file)}
    result = entry_point(["migrate"], tmp_path, "", monkeypatch, capsys, **variable)
    assert_refused(result, f"ROUTEPLEX_DATA_DIR: {reason}")
    monkeypatch.delenv("ROUTEPLEX_DATA_DIR")
    result = entry_point(
        ["serve", "--data-dir", str(inside_a_file)], tmp_path, "", monkeypatch, capsys
    )
    assert_refused(result, f"--data-dir: {reason}")
    nowhere = tmp_path / "missing"
    config = f'data_dir = "{inside_a_file}"\ndatabase_url = "sqlite:///{nowhere}.db"\n'
    result = entry_point(["migrate"], tmp_path, config, monkeypatch, capsys)
    assert result.returncode == 0, result.stderr  # not used with its own database URL
    monkeypatch.delenv("ROUTEPLEX_DATA_DIR")  # set by entry_point, and it would win
    (tmp_path / "other.toml").write_text(f'data_dir = "{inside_a_file}"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(tmp_path / "other.toml")
    assert str(refused.value) == f"{tmp_path / 'other.toml'}: data_dir: {reason}"


def test_the_real_command_refuses_a_bad_url_without_showing_it(tmp_path: Path) -> None:
    result = routeplex(["serve"], tmp_path, ROUTEPLEX_REDIS_URL="localhost:6379")
    assert_refused(
        result, "ROUTEPLEX_REDIS_URL: expected a URL starting redis://, rediss:// or unix://"
    )


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


def test_flags_win_over_the_environment_which_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.toml").write_text('port = 9001\nhost = "127.0.0.2"\nlog_level = "debug"\n')
    for name in [k for k in os.environ if k.startswith("ROUTEPLEX_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ROUTEPLEX_PORT", "9002")
    monkeypatch.setenv("ROUTEPLEX_HOST", "127.0.0.3")
    monkeypatch.setenv("ROUTEPLEX_DATA_DIR", str(tmp_path / "from-env"))
    settings = load_settings(tmp_path / "c.toml", port=9003, data_dir=tmp_path / "from-flag")
    assert (settings.port, settings.host, settings.log_level) == (9003, "127.0.0.3", "debug")
    assert settings.data_dir == tmp_path / "from-flag"
    assert (tmp_path / "from-flag").is_dir() and not (tmp_path / "from-env").exists()
