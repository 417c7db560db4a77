r"""Deterministic answers and token counts, independent of any provider's wire format.

The same conversation always gets the same answer, so tests can compare bytes and the gateway's
metering can be checked against known numbers. Answers are built from a fixed bank of neutral
sentences picked by a hash of the conversation: they never echo the prompt, which lets
data-policy tests search logs and databases for prompt text without false hits.

Tool calls follow the turn an agent loop is at, so agent clients finish their task: when the
conversation ends with the user's own turn and tools are allowed, the answer calls a tool;
when it ends with tool results, the answer is text that opens with `AFTER_TOOL_SENTENCE` —
unless the caller forces a tool call, which real providers honour on every turn (see
`_calls_tool`).

Token counting is an approximation, documented here because tests rely on it:

* a token is one word (`\w+`) or one run of punctuation (`[^\w\s]+`), together with the
  whitespace before it: "Hello, world!" is 4 tokens ("Hello", ",", " world", "!");
* a prompt costs, per message, 3 tokens of overhead + the tokens of its role and content
  (+ 1 + the name's tokens when a `name` is given), plus 3 tokens priming the reply
  (OpenAI's published counting recipe, with the word rule standing in for the tokenizer);
  an image part costs 85 tokens at `detail: low`, else 255; tool definitions cost the tokens
  of their JSON text;
* completion tokens are the pieces of the generated text — streams send one piece per chunk —
  or, for tool calls, the tokens of each call's name and arguments + 3; reasoning models
  (`o1*`, `o3*`, `o4*`, `gpt-5*`, or any request whose format turned thinking on, see
  `AnswerSpec.reasoning`) add 64 or 128 reasoning tokens, which count inside the completion
  tokens and inside `max_tokens`, as OpenAI's, Anthropic's and Gemini's do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from routeplex_gateway.simulator.schema_values import value_for_schema

FinishReason = Literal["stop", "length", "tool_calls"]
LastTurn = Literal["user", "tool", "other"]

TOKENS_PER_MESSAGE = 3
REPLY_PRIMING_TOKENS = 3
IMAGE_TOKENS_LOW_DETAIL = 85
IMAGE_TOKENS_OTHER_DETAIL = 255
TOOL_CALL_OVERHEAD_TOKENS = 3
REASONING_TOKEN_STEP = 64
REASONING_MODEL_PREFIXES = ("o1", "o3", "o4", "gpt-5")

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s]+)")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Neutral sentences: nothing here should look like an answer to anything in particular, so a
# reader of a demo transcript sees at once that the text is simulated.
SENTENCES = (
    "This reply comes from the RoutePlex upstream simulator.",
    "The simulator picks its sentences from a fixed list, so the same request gets the same text.",
    "No real model was consulted to write this answer.",
    "Each sentence is chosen by a hash of the conversation.",
    "Token counts follow a simple rule of one token per word or punctuation run.",
    "Streaming sends this text one small piece at a time.",
    "A gateway in front of this server should relay every piece unchanged.",
    "Usage numbers are computed from the request and the answer, not measured.",
    "Faults such as timeouts and broken streams can be switched on over HTTP.",
    "The answer stays the same when the request is sent again.",
    "Nothing in this text is taken from the prompt.",
    "Here is a short, plain answer with no particular meaning.",
    "The weather in the simulator is always calm and predictable.",
    "Tests can compare this text byte for byte across runs.",
    "Reasoning models report extra reasoning tokens in their usage.",
    "Tool calls, JSON mode and length limits are supported as well.",
    "A second request with different messages gets different sentences.",
    "The simulator keeps nothing but the last few request bodies, in memory only.",
    "Every response is shaped exactly like the provider's own wire format.",
    "That is all the simulator has to say for now.",
)
# Opens a text answer to tool results. Kept out of the bank so that adding it changed no other
# answer, and fixed so that a transcript shows at once that the loop was closed on purpose.
AFTER_TOOL_SENTENCE = "The simulator has the tool results it asked for and ends its turn here."


@dataclass(frozen=True)
class PromptMessage:
    """One prompt message reduced to what token counting needs."""

    role: str
    texts: tuple[str, ...] = ()
    image_tokens: int = 0
    name: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A callable tool: its name and the JSON schema of its arguments."""

    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextOutput:
    """Plain text answer."""


@dataclass(frozen=True)
class JsonObjectOutput:
    """JSON mode: any valid JSON object."""


@dataclass(frozen=True)
class JsonSchemaOutput:
    """Structured output: JSON valid against `schema`."""

    schema: Mapping[str, Any]


OutputMode = TextOutput | JsonObjectOutput | JsonSchemaOutput


@dataclass(frozen=True)
class AnswerSpec:
    """What a format's request asks for, in format-independent terms.

    `seed` identifies the conversation (a digest of its messages): equal seeds give equal
    answers. `last_turn` says whose turn ended the conversation: the user's own words, tool
    results, or anything else (an assistant prefill). `use_tools` is False when the caller
    forbade tools; `tool_required` says the caller insists on some tool call (OpenAI
    `required`, Anthropic `any`, Gemini `ANY`) and `forced_tool` names the one it insists on
    (which implies `tool_required`); `parallel` says the caller both allows and asks for
    parallel calls.
    `tools_used` says tool results are already in the conversation: the simulator plays one
    round of tools per conversation, so that agents whose every user turn offers tools (Claude
    Code's subagent notifications come back as user turns) still end.
    `reasoning` says whether the model thinks first: None leaves it to the model name (OpenAI's
    reasoning models), formats with a thinking switch (Anthropic, Gemini) decide it.
    """

    seed: bytes
    model: str
    last_turn: LastTurn = "user"
    tools: tuple[ToolSpec, ...] = ()
    use_tools: bool = True
    tool_required: bool = False
    forced_tool: str | None = None
    tools_used: bool = False
    parallel: bool = False
    output: OutputMode = TextOutput()
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    reasoning: bool | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool call; `key` is a stable id body that each format prefixes (`call_`, …)."""

    key: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Answer:
    """A generated answer: text pieces (one per streamed chunk) or tool calls, plus usage."""

    pieces: tuple[str, ...]
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    completion_tokens: int
    reasoning_tokens: int
    stopped_by: str | None = None  # the stop sequence that ended the text, if one did

    @property
    def text(self) -> str | None:
        """The full text, or None for a tool-call answer (providers send `content: null`)."""
        return None if self.tool_calls else "".join(self.pieces)


def digest(*parts: bytes) -> bytes:
    """SHA-256 over length-prefixed parts, so ("ab", "c") and ("a", "bc") differ."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.digest()


def conversation_seed(messages: Any) -> bytes:
    """The seed of a conversation: a digest of its messages in canonical JSON."""
    return digest(orjson.dumps(messages, option=orjson.OPT_SORT_KEYS))


def stable_token(seed: bytes, label: str, length: int) -> str:
    """A base62 string derived from `seed` and `label`: stable ids and padding."""
    number = int.from_bytes(digest(seed, label.encode()), "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


def split_pieces(text: str) -> list[str]:
    """Split text into token pieces whose concatenation is exactly `text`."""
    pieces = _TOKEN.findall(text)
    trailing = text[sum(len(piece) for piece in pieces) :]
    # Only whitespace can be left over, and only at the end: keep it so nothing is lost.
    if trailing:
        if pieces:
            pieces[-1] += trailing
        else:
            pieces.append(trailing)
    return pieces


def count_tokens(text: str) -> int:
    """Approximate token count of `text` (see the module docstring)."""
    return len(_TOKEN.findall(text))


def count_prompt_tokens(messages: Sequence[PromptMessage], extra_texts: Sequence[str] = ()) -> int:
    """Prompt tokens of a conversation plus extra texts such as tool definitions."""
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE + count_tokens(message.role) + message.image_tokens
        total += sum(count_tokens(text) for text in message.texts)
        if message.name:
            total += 1 + count_tokens(message.name)
    return total + sum(count_tokens(text) for text in extra_texts)


def image_tokens(detail: str | None) -> int:
    """Tokens charged for one image part at the given detail level."""
    return IMAGE_TOKENS_LOW_DETAIL if detail == "low" else IMAGE_TOKENS_OTHER_DETAIL


def is_reasoning_model(model: str) -> bool:
    """Whether `model` names an OpenAI reasoning model (which reports reasoning tokens)."""
    return model.lower().startswith(REASONING_MODEL_PREFIXES)


def plan_answer(spec: AnswerSpec) -> Answer:
    """The deterministic answer to `spec`."""
    reasoning = _reasoning_tokens(spec)
    if _calls_tool(spec):
        calls = _tool_calls(spec)
        tokens = sum(
            count_tokens(call.name) + count_tokens(call.arguments) + TOOL_CALL_OVERHEAD_TOKENS
            for call in calls
        )
        return Answer((), calls, "tool_calls", tokens + reasoning, reasoning)
    text, stopped_by = _apply_stop(_content(spec), spec.stop)
    pieces = split_pieces(text)
    finish: FinishReason = "stop"
    if spec.max_tokens is not None:
        # Reasoning is spent first, as on OpenAI: a small budget can leave no visible text.
        budget = max(spec.max_tokens - reasoning, 0)
        if len(pieces) > budget:
            pieces, finish, stopped_by = pieces[:budget], "length", None
    return Answer(tuple(pieces), (), finish, len(pieces) + reasoning, reasoning, stopped_by)


def sentences(seed: bytes) -> list[str]:
    """Two to four distinct sentences from the bank, chosen by `seed`."""
    wanted = 2 + seed[0] % 3
    chosen: list[str] = []
    for byte in digest(seed, b"sentences"):
        sentence = SENTENCES[byte % len(SENTENCES)]
        if sentence not in chosen:
            chosen.append(sentence)
        if len(chosen) == wanted:
            break
    return chosen


def _calls_tool(spec: AnswerSpec) -> bool:
    """Whether the answer is tool calls rather than text."""
    if not (spec.tools and spec.use_tools):
        return False
    required = spec.tool_required or spec.forced_tool is not None
    if spec.last_turn == "user":
        return required or not spec.tools_used
    # After tool results the answer is text: that is what ends an agent loop (Claude Code and
    # the like run tools until a turn has none). A forced choice still forces a call, because
    # the real providers constrain the answer to a call whatever the conversation ends with:
    # Gemini documents ANY as "constrained to always predicting function calls", Anthropic's
    # `any`/`tool` must use a tool (no text is generated), and OpenAI's Agents SDK resets
    # `tool_choice` after the first call (`reset_tool_choice`) because a forced `required` or
    # named choice otherwise loops forever. Simulating that loop keeps such client bugs visible.
    return spec.last_turn == "tool" and required


def _content(spec: AnswerSpec) -> str:
    output = spec.output
    if isinstance(output, JsonSchemaOutput):
        return orjson.dumps(value_for_schema(output.schema, spec.seed)).decode()
    if isinstance(output, JsonObjectOutput):
        confidence = 50 + spec.seed[1] % 50
        value = {"answer": sentences(spec.seed)[0], "confidence": confidence / 100}
        return orjson.dumps(value).decode()
    if spec.last_turn == "tool":
        return " ".join([AFTER_TOOL_SENTENCE, *sentences(spec.seed)])
    return " ".join(sentences(spec.seed))


def _apply_stop(text: str, stop: Sequence[str]) -> tuple[str, str | None]:
    cuts = [(index, s) for index, s in ((text.find(s), s) for s in stop if s) if index >= 0]
    if not cuts:
        return text, None
    index, matched = min(cuts)
    return text[:index], matched


def _tool_calls(spec: AnswerSpec) -> tuple[ToolCall, ...]:
    if spec.forced_tool is not None:
        chosen = [tool for tool in spec.tools if tool.name == spec.forced_tool][:1]
    elif spec.parallel and len(spec.tools) >= 2:
        chosen = list(spec.tools[:2])
    else:
        chosen = list(spec.tools[:1])
    calls = []
    for index, tool in enumerate(chosen):
        call_seed = digest(spec.seed, tool.name.encode(), str(index).encode())
        arguments = value_for_schema(tool.parameters or {"type": "object"}, call_seed)
        calls.append(
            ToolCall(
                key=stable_token(call_seed, "call", 24),
                name=tool.name,
                arguments=orjson.dumps(arguments).decode(),
            )
        )
    return tuple(calls)


def _reasoning_tokens(spec: AnswerSpec) -> int:
    thinks = spec.reasoning if spec.reasoning is not None else is_reasoning_model(spec.model)
    if not thinks:
        return 0
    tokens = REASONING_TOKEN_STEP * (1 + spec.seed[2] % 2)
    return tokens if spec.max_tokens is None else min(tokens, spec.max_tokens)
