"""The harness's before/after comparison and its Messages scenarios, fast: the mock's Anthropic
wire read by the official `anthropic` SDK over a real socket, the load generator's Messages
judge, the commands that build the `routeplex-before` target (not run: a build takes a
minute), the compare mode's settings and its report. About two seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anthropic
import pytest
from bench.loadgen import LoadResult, RequestSpec, run_load
from bench.messages_wire import judge_events, judge_message, messages_body
from bench.mock_upstream import bound_port, start_mock
from bench.mock_wire import ANSWER, COMPLETION_TOKENS, PROMPT_TOKENS, MockConfig
from bench.report import Cell
from bench.run import parse_args, same_shape
from bench.scenarios import SCENARIOS, Scenario
from bench.targets import REPO, WORK, Target, make_targets

from bench import before, comparison, measure

EVENTS = ["message_start", "content_block_start"]
ENDING = ["content_block_stop", "message_delta", "message_stop"]


@pytest.mark.parametrize("chunks", [1, 2, 20])
async def test_the_mock_streams_messages_the_sdk_reads(chunks: int) -> None:
    server, mock = await start_mock(config=MockConfig(chunks=chunks))
    client = anthropic.AsyncAnthropic(
        base_url=f"http://127.0.0.1:{bound_port(server)}", api_key="sk-ant-test", max_retries=0
    )
    try:
        kinds: list[str] = []
        async with client.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=256,
            messages=[{"role": "user", "content": "hello"}],
        ) as stream:
            async for event in stream:
                kinds.append(event.type)
            message = await stream.get_final_message()
    finally:
        await client.close()
        server.close()
    deltas = [k for k in kinds if k == "content_block_delta"]
    raw = [k for k in kinds if k not in ("text", "ping")]  # the SDK adds its `text` events
    assert raw == EVENTS + deltas + ENDING
    assert len(deltas) == max(1, chunks - 1)  # the last write is the finish, as for chat
    assert message.id.startswith("msg_01") and len(message.id) == 28
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    assert mock.streams == mock.requests == 1


async def test_the_mock_answers_messages_the_sdk_reads() -> None:
    server, _ = await start_mock()
    client = anthropic.AsyncAnthropic(
        base_url=f"http://127.0.0.1:{bound_port(server)}", api_key="sk-ant-test", max_retries=0
    )
    try:
        message = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=256,
            messages=[{"role": "user", "content": "hello"}],
        )
        with pytest.raises(anthropic.BadRequestError):  # max_tokens is required
            await client.post("/v1/messages", body={"messages": [1]}, cast_to=object)
    finally:
        await client.close()
        server.close()
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.usage.output_tokens == COMPLETION_TOKENS


async def test_paced_messages_stream_keeps_the_chat_pacing() -> None:
    server, _ = await start_mock(config=MockConfig(chunks=5, ttft_ms=50, gap_ms=10))
    url = f"http://127.0.0.1:{bound_port(server)}/v1/messages"
    spec = RequestSpec.chat(
        url,
        stream=True,
        body=messages_body(stream=True),
        check="full",
        expect=ANSWER,
        wire="anthropic",
    )
    try:
        result = await run_load(url, [spec], concurrency=4, duration_s=0.6, warmup_s=0.2)
    finally:
        server.close()
    assert result.errors == 0, result.summary()
    assert result.requests > 8
    assert min(result.ttfb_ms) >= 45 and min(result.latency_ms) >= 85  # TTFT, then 4 gaps


def test_the_messages_judge_refuses_what_is_not_a_messages_answer() -> None:
    good = (
        b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0}\n\n'
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":1}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert judge_events(good, "full", "hi") is None
    assert judge_events(good, "full", "other") == "wrong_content"
    cut = good.rsplit(b"event: message_stop", 1)[0]
    assert judge_events(cut, "light", None) == "no_message_stop"
    renamed = good.replace(b"event: content_block_stop", b"event: ping")
    assert judge_events(renamed, "full", "hi") == "malformed"
    no_usage = good.replace(b'"usage":{"output_tokens":1}', b'"usage":{}')
    assert judge_events(no_usage, "full", "hi") == "no_usage"
    assert judge_message(b'{"type":"message","content":[{"type":"text","text":"a"}]}', None) is None
    assert judge_message(b'{"choices":[]}', None) == "malformed"


def test_the_before_target_is_built_from_its_own_lock(tmp_path: Path) -> None:
    commit = "11c905071ce690dbfef58eeb22478ef968ca4f08"
    tree = before.build_dir(commit, tmp_path)
    assert tree == tmp_path / "before-11c9050"
    python = str(tree / ".venv" / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    assert before.build_commands(commit, tree, Path("/repo"), "/usr/bin/python3") == [
        ["sh", "-c", f"git -C /repo archive --format=tar {commit} | tar -x -C {tree}"],
        ["/usr/bin/python3", "-m", "venv", str(tree / ".venv")],
        [*pip, "--require-hashes", "-r", str(tree / "requirements" / "runtime.lock")],
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(tree)],
    ]
    with pytest.raises(RuntimeError, match="not built"):
        before.build(commit, install=False, work=tmp_path)


def test_the_after_side_of_a_comparison_is_built_like_the_before_side(tmp_path: Path) -> None:
    [after, then] = make_targets(["routeplex", "routeplex-before"], 0, "11c9050", same_build=True)
    assert isinstance(after, before.RoutePlexAfter) and after.name == "routeplex"
    assert isinstance(then, before.RoutePlexBefore)
    [plain] = make_targets(["routeplex"], 0)
    assert type(plain) is before.RoutePlex  # a plain run uses the project's own venv
    venv = tmp_path / "after-venv"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip.append("--disable-pip-version-check")
    # The before-target's venv steps, for this tree (editable: uncommitted changes count).
    assert before.venv_commands(REPO, venv, "py") == [
        ["py", "-m", "venv", str(venv)],
        [*pip, "--require-hashes", "-r", str(REPO / "requirements" / "runtime.lock")],
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(REPO)],
    ]
    with pytest.raises(RuntimeError, match="not built"):
        before.build_after(install=False, work=tmp_path)


def test_the_before_ref_resolves_to_a_commit() -> None:
    try:
        commit = before.resolve(before.DEFAULT_BEFORE)
    except RuntimeError:
        pytest.skip("this checkout does not have the default before commit (a shallow clone?)")
    assert commit.startswith(before.DEFAULT_BEFORE) and len(commit) == 40
    with pytest.raises(RuntimeError, match="names no commit"):
        before.resolve("no-such-ref-anywhere")


def test_the_before_target_runs_like_routeplex_from_its_own_tree() -> None:
    [target] = make_targets(["routeplex-before"], 0, "11c9050")
    assert isinstance(target, before.RoutePlexBefore)
    assert target.ref == "11c9050"
    assert target.name == "routeplex-before"
    # launch(), serve_args and the environment are RoutePlex's own: only the binary differs.
    assert type(target).launch is before.RoutePlex.launch
    assert target.serve_args == () and target.serve_env == ()
    assert WORK == REPO / "bench" / ".work"


def test_compare_mode_runs_both_targets_on_every_scenario_interleaved() -> None:
    args = parse_args(["--compare-before", "abc1234"])
    assert args.targets == ["routeplex", "routeplex-before"]
    assert args.before == "abc1234"
    assert args.scenarios == list(SCENARIOS)
    assert args.interleave and args.relaunch and args.rounds == 4 and args.duration == 12
    assert args.slices == 6
    assert parse_args(["--compare-before"]).before == before.DEFAULT_BEFORE
    plain = parse_args([])
    assert not plain.interleave and plain.rounds == 1 and not plain.relaunch
    assert "messages-claude-16" not in plain.scenarios  # the default matrix is the chat one
    for needs_interleave in (["--rounds", "2"], ["--slices", "4"]):
        with pytest.raises(SystemExit):
            parse_args(needs_interleave)


async def test_sliced_cells_alternate_the_targets_and_scenarios(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str, float, float]] = []

    async def fake_sample(
        target: Target, scenario: Scenario, mock: object, duration: float, warmup: float
    ) -> measure.Sample:
        calls.append((target.name, scenario.name, duration, warmup))
        result = LoadResult(concurrency=16, duration_s=duration, latency_ms=[1.0] * 100)
        cpu = 0.02 if target.name == "a" else 0.03
        return measure.Sample(result, cpu, 0.0, 0.0, 2**20)

    monkeypatch.setattr(measure, "sample", fake_sample)
    a, b = Target(), Target()
    a.name, b.name = "a", "b"
    plain, messages = SCENARIOS["plain-16"], SCENARIOS["messages-gpt-16"]
    args = parse_args(["--compare-before", "--duration", "12", "--warmup", "3"])
    arms = [(a, plain), (b, plain), (a, messages)]
    cells = await measure.measure_sliced(arms, None, args, 2)  # type: ignore[arg-type]
    order = [(t, s) for t, s, _, _ in calls]
    there = [("a", "plain-16"), ("b", "plain-16"), ("a", "messages-gpt-16")]
    assert order == (there + there[::-1]) * 3
    assert {duration for _, _, duration, _ in calls} == {2.0}
    assert [w for t, s, _, w in calls if (t, s) == ("b", "plain-16")] == [3.0] + [1.0] * 5
    got = [(c.target, c.scenario, c.requests, c.round) for c in cells]
    assert got == [
        ("a", "plain-16", 600, 2),
        ("b", "plain-16", 600, 2),
        ("a", "messages-gpt-16", 600, 2),
    ]
    assert [c.cpu_ms_per_req for c in cells] == pytest.approx([0.2, 0.3, 0.2])
    assert cells[0].rps == pytest.approx(50.0)


def test_scenarios_are_sliced_together_by_shape() -> None:
    groups = same_shape([SCENARIOS[n] for n in SCENARIOS])
    names = [[s.name for s in group] for group in groups]
    assert names[1] == [
        "plain-16",
        "claude-16",
        "messages-gpt-16",
        "messages-claude-16",
        "responses-16",
        "embeddings-16",
    ]
    assert ["plain-1"] in names and ["paced-256"] in names
    assert sum(len(n) for n in names) == len(SCENARIOS)


def _cell(scenario: str, target: str, slices: list[float], p50: float, round_: int) -> Cell:
    cpu = sum(slices) / len(slices)
    cell = Cell(scenario, target, 1000.0, p50, p50, p50, p50, 100, 0, cpu, 90.0, 20.0, 5.0)
    cell.round, cell.slice_cpu_ms = round_, list(slices)
    return cell


def test_the_comparison_tables() -> None:
    cells = [
        _cell("plain-16", "routeplex", [0.21, 0.22, 0.20], 3.0, 1),
        _cell("plain-16", "routeplex-before", [0.20, 0.21, 0.19], 3.0, 1),
        _cell("plain-16", "routeplex", [0.22, 0.23, 0.21], 3.1, 2),
        _cell("plain-16", "routeplex-before", [0.20, 0.21, 0.20], 3.0, 2),
        _cell("messages-gpt-16", "routeplex", [0.30, 0.31, 0.29], 4.0, 1),
        _cell("messages-gpt-16", "routeplex", [0.33, 0.34, 0.32], 4.6, 2),
    ]
    text = comparison.before_after(cells, ["plain-16"], "11c9050")
    assert (
        "| plain-16 | 0.210, 0.220 | 0.200, 0.203 | 1.050, 1.082 | **1.066 (1.040–1.092)** |"
        in (text)
    )
    assert text.rstrip().endswith("| can't tell |")  # the interval straddles 1.05
    scenarios = {"plain-16": ("chat", None), "messages-gpt-16": ("messages-gpt", "plain-16")}
    text = comparison.surface_overhead(cells, scenarios)
    row = "| messages-gpt-16 | routeplex | 0.300, 0.330 | 1.43×, 1.50× → **1.46×** (1.42–1.51)"
    assert row + " | +1.00, +1.50 |" in text


def test_the_verdict_reads_the_interval() -> None:
    def verdict(low: float, high: float) -> str:
        return comparison.Ratio(1.0, low, high, 12).verdict()

    assert verdict(0.97, 1.04) == "yes"
    assert verdict(1.02, 1.08) == "can't tell"
    assert verdict(1.06, 1.12) == "**no**"
    same = [_cell("x", "a", [1.0, 2.0], 1, 1)]
    assert comparison.paired(same, [_cell("x", "b", [1.0, 2.0], 1, 1)]) == comparison.Ratio(
        1.0, 1.0, 1.0, 2
    )
    assert comparison.paired(same, [None]) is None
    # From 3 rounds on, the interval is over the rounds (fresh launches), not the slices.
    now = [_cell("x", "a", [1.1, 1.1], 1, r) for r in (1, 2, 3)]
    then = [_cell("x", "b", [1.0, 1.0], 1, r) for r in (1, 2, 3)]
    then[2].slice_cpu_ms = [1.1, 1.1]
    ratio = comparison.paired(now, list(then))
    assert ratio is not None and ratio.pairs == 6
    assert ratio.low < 1.0 < ratio.high  # one round of three disagrees: a wide interval


def test_the_harness_modules_run_as_scripts() -> None:
    # The mock and the load generator are started as `python bench/<file>.py`.
    import subprocess

    for script in ("mock_upstream.py", "loadgen.py"):
        out = subprocess.run(
            [sys.executable, str(REPO / "bench" / script), "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "usage" in out.stdout
