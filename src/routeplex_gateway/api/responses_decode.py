"""An OpenAI Responses request (`POST /v1/responses`) → the canonical `ChatRequest`.

`decode` refuses what a stateless gateway cannot serve (`previous_response_id`,
`conversation`, `background`, `item_reference` items: the caller sends the whole input), checks
the body against its schema (`schemas/openai_responses.py`, the same models `/openapi.json`
is generated from) and how deep it nests, then maps it:

* `instructions` → a leading system message; `input` as a string → one user message;
* message items → messages (`developer` → system); their parts: input_text / output_text →
  `Text`, refusal → `Refusal`, input_image → `Image`, input_file → `Document`, input_audio →
  `Audio`. Files API ids (`file_id`) are refused: only OpenAI could read them, and the
  gateway sends media inline or by URL to every provider;
* consecutive assistant output — message items, `function_call` items (→ `ToolCall`s), and
  `reasoning` items (→ `Thinking`) — is one assistant turn, as Chat Completions and
  Anthropic need it; consecutive `function_call_output` items one tool turn of `ToolResult`s;
* a reasoning item's `encrypted_content` is OpenAI's own, readable by OpenAI only: it stays in
  the body an OpenAI upstream is sent as it came; canonically the reasoning is unsigned text,
  which other providers leave out — except the gateway's own wrapping of another provider's
  signed thinking (`SEALED`), which is that provider's signature again;
* function `tools` → `Tool`s; built-in tools (web search, file search, code interpreter,
  computer use, image generation, MCP, shell…) are refused, named: they run on OpenAI's side;
* `tool_choice` and `parallel_tool_calls` → `ToolChoice`; `text.format` → `ResponseFormat`;
  `reasoning.effort` → `Reasoning` (xhigh → high); `max_output_tokens`, `temperature`,
  `top_p`, `user` (else `safety_identifier`) as named. `metadata`, `include` and `store` are
  read by the codec only (`store` is answered false whatever was asked).

Errors name the field and say the fix; they never quote the caller's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..canonical import (
    Audio,
    ChatRequest,
    ChoiceMode,
    Document,
    Effort,
    Image,
    Media,
    Message,
    Part,
    Reasoning,
    Refusal,
    ResponseFormat,
    ResultPart,
    Role,
    Sampling,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from ..errors import GatewayError, validation
from .anthropic_blocks import WIRE as ANTHROPIC_WIRE
from .openai_decode import media_of_url
from .schemas.openai_responses import ResponsesRequest
from .schemas.refusal import check
from .validation import validate_nesting

WIRE = "openai-responses"
# The wire format whose signed thinking comes back sealed (the Messages surface's: its
# translator sends a signed thinking part back as that provider's thinking block).
SEALED_WIRE = ANTHROPIC_WIRE
# How the gateway wraps that signed thinking as a reasoning item's `encrypted_content`, so
# the caller can send it back: `SEALED` + ("redacted:" for a redacted block) + signature.
SEALED = f"routeplex:{SEALED_WIRE}:"
REDACTED = "redacted:"
_FIELDS = frozenset(ResponsesRequest.model_fields)
_EFFORTS: dict[str, Effort] = {
    "none": "none", "minimal": "minimal", "low": "low", "medium": "medium", "high": "high",
    "xhigh": "high",
}  # fmt: skip
_STATELESS = (
    "RoutePlex keeps no state (nothing of a request is stored, by its data policy), so there "
    "is nothing to continue from: send the whole conversation in 'input', with the earlier "
    "answers' output items (for reasoning models, ask for them with include: "
    '["reasoning.encrypted_content"]).'
)
# OpenAI's built-in tools, and the item types of their calls, by the family they belong to.
_BUILT_IN_TOOLS = {
    "web_search": "web search",
    "file_search": "file search",
    "code_interpreter": "code interpreter",
    "computer": "computer use",
    "image_generation": "image generation",
    "mcp": "remote MCP",
    "local_shell": "local shell",
    "shell": "shell",
    "apply_patch": "apply patch",
    "custom": "custom (free-form) tool",
    "tool_search": "tool search",
}


# What only OpenAI's own Responses API serves: another provider's request has no place for
# it, and dropping it would change the answer without a word. (The body goes to OpenAI as
# it came, so there these work.)
_OPENAI_ONLY = {
    "prompt": "a stored prompt ('prompt')",
    "top_logprobs": "log probabilities ('top_logprobs')",
    "max_tool_calls": "a cap on tool calls ('max_tool_calls')",
}
_LOGPROBS = "message.output_text.logprobs"


@dataclass(frozen=True, slots=True)
class DecodedResponses:
    model: str
    chat: ChatRequest
    encrypted_reasoning: bool  # the caller asked for include: ["reasoning.encrypted_content"]
    openai_only: tuple[str, ...] = ()  # what the request asks that only OpenAI serves


def stateless(body: Any) -> None:
    """Refuse what only a server that keeps responses could serve, naming the field."""
    if not isinstance(body, dict):
        return
    for name in ("previous_response_id", "conversation"):
        if body.get(name) is not None:
            raise validation(f"'{name}' is not supported. {_STATELESS}", name)
    if body.get("background") is True:
        raise validation(
            "'background' must be false: a background response would have to be stored for "
            "you to fetch it, and RoutePlex stores nothing. Stream the response instead.",
            "background",
        )


def decode(body: Any) -> DecodedResponses:
    """A Responses body → DecodedResponses, or a validation GatewayError."""
    stateless(body)
    request = check(ResponsesRequest, body)
    validate_nesting(body, _FIELDS)
    include = request.include or []
    openai_only = [what for name, what in _OPENAI_ONLY.items() if body.get(name) is not None]
    if _LOGPROBS in include and _OPENAI_ONLY["top_logprobs"] not in openai_only:
        openai_only.append(f"log probabilities ('include': {_LOGPROBS})")
    return DecodedResponses(
        model=request.model,
        encrypted_reasoning="reasoning.encrypted_content" in include,
        openai_only=tuple(openai_only),
        chat=ChatRequest(
            messages=_messages(body),
            stream=bool(request.stream),
            max_output_tokens=request.max_output_tokens,
            tools=_tools(body.get("tools") or ()),
            tool_choice=_tool_choice(body.get("tool_choice"), request.parallel_tool_calls),
            response_format=_response_format(body.get("text")),
            reasoning=_reasoning(body.get("reasoning")),
            sampling=Sampling(temperature=request.temperature, top_p=request.top_p),
            user=request.user or request.safety_identifier,
        ),
    )


def _messages(body: dict[str, Any]) -> list[Message]:
    messages: list[Message] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append(Message("system", (Text(instructions),)))
    items = body["input"]
    if isinstance(items, str):
        messages.append(Message("user", (Text(items),)))
        return messages
    turn = _Turns(messages)
    for index, item in enumerate(items):
        turn.add(item, f"input[{index}]")
    turn.flush()
    return messages


class _Turns:
    """Input items gathered into turns: an assistant's consecutive output (messages, calls,
    reasoning) is one turn, consecutive function outputs one tool turn."""

    __slots__ = ("_messages", "_open", "_role")

    def __init__(self, messages: list[Message]) -> None:
        self._messages = messages
        self._role: Role | None = None  # "assistant" or "tool" while a turn gathers
        self._open: list[Part] = []

    def flush(self) -> None:
        if self._role is not None and self._open:
            self._messages.append(Message(self._role, tuple(self._open)))
        self._role, self._open = None, []

    def _gather(self, role: Role, parts: list[Part]) -> None:
        if self._role != role:
            self.flush()
            self._role = role
        self._open.extend(parts)

    def add(self, item: dict[str, Any], where: str) -> None:
        kind = item.get("type")
        if kind is None or kind == "message":
            role = item["role"]
            parts = _parts(item["content"], where)
            if role == "assistant":
                self._gather("assistant", parts)
                return
            self.flush()
            self._messages.append(Message("user" if role == "user" else "system", tuple(parts)))
        elif kind == "function_call":
            call = ToolCall(id=item["call_id"], name=item["name"], arguments=item["arguments"])
            self._gather("assistant", [call])
        elif kind == "reasoning":
            self._gather("assistant", [_thinking(item)])
        elif kind == "function_call_output":
            result = ToolResult(call_id=item["call_id"], parts=_result(item["output"], where))
            self._gather("tool", [result])
        else:
            raise _unserved_item(kind, where)


def _unserved_item(kind: str, where: str) -> GatewayError:
    if kind == "item_reference":
        return validation(f"'{where}' refers to a stored item. {_STATELESS}", f"{where}.type")
    family = _family(kind)
    what = f"a {family} item (OpenAI's built-in tools)" if family else "an item of another type"
    return validation(
        f"'{where}' is {what}, which RoutePlex does not serve: it serves message, "
        "function_call, function_call_output and reasoning items.",
        f"{where}.type",
    )


def _family(kind: str) -> str | None:
    """The built-in tool family a tool or item type belongs to (our words, never the
    caller's string), or None."""
    for prefix, family in _BUILT_IN_TOOLS.items():
        if kind == prefix or kind.startswith(prefix + "_"):
            return family
    return None


def _thinking(item: dict[str, Any]) -> Thinking:
    texts = [p["text"] for p in item.get("content") or () if isinstance(p, dict)]
    if not texts:
        texts = [p["text"] for p in item.get("summary") or () if isinstance(p, dict)]
    text = "\n\n".join(texts)
    sealed = item.get("encrypted_content")
    if isinstance(sealed, str) and sealed.startswith(SEALED):
        signature = sealed[len(SEALED) :]
        redacted = signature.startswith(REDACTED)
        if redacted:
            signature = signature[len(REDACTED) :]
        return Thinking(text=text, signature=signature or None, redacted=redacted)
    return Thinking(text=text)  # OpenAI's own sealed reasoning travels in the native body


def _parts(content: Any, where: str) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Part] = []
    for index, part in enumerate(content):
        decoded = _part(part, f"{where}.content[{index}]")
        if decoded is not None:
            parts.append(decoded)
    return parts


def _part(part: dict[str, Any], where: str) -> Part | None:
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return Text(part["text"])
    if kind == "refusal":
        return Refusal(part["refusal"])
    if kind == "input_image":
        url = part.get("image_url")
        if not url:
            raise _file_id(where, "image_url", "an image URL or a data URL")
        detail = part.get("detail")
        return Image(media=media_of_url(url), detail=detail if detail != "auto" else None)
    if kind == "input_file":
        data, url = part.get("file_data"), part.get("file_url")
        filename = part.get("filename")
        if data:
            media = media_of_url(data) if data.startswith("data:") else _pdf(data)
            return Document(media=media, filename=filename)
        if url:
            return Document(media=Media(media_type=None, url=url), filename=filename)
        raise _file_id(where, "file_data", "the file's base64 data (or a data URL), or file_url")
    if kind == "input_audio":
        audio = part["input_audio"]
        return Audio(media=Media(media_type=f"audio/{audio['format']}", data=audio["data"]))
    raise validation(
        f"'{where}.type' must be one of input_text, input_image, input_file, input_audio, "
        "output_text or refusal.",
        f"{where}.type",
    )


def _pdf(data: str) -> Media:
    # Bare base64 `file_data`: OpenAI's Responses file inputs are PDFs.
    return Media(media_type="application/pdf", data=data)


def _file_id(where: str, field: str, what: str) -> GatewayError:
    return validation(
        f"'{where}.{field}' is required and must be {what}: Files API ids ('file_id') are "
        "not supported, since only OpenAI could read them.",
        f"{where}.{field}",
    )


def _result(output: Any, where: str) -> tuple[ResultPart, ...]:
    if isinstance(output, str):
        return (Text(output),)
    parts: list[ResultPart] = []
    for index, part in enumerate(output):
        decoded = _part(part, f"{where}.output[{index}]")
        if isinstance(decoded, Text | Image | Document):
            parts.append(decoded)
        elif decoded is not None:
            raise validation(
                f"'{where}.output[{index}].type' must be input_text, input_image or input_file.",
                f"{where}.output[{index}].type",
            )
    return tuple(parts)


def _tools(tools: Any) -> tuple[Tool, ...]:
    out: list[Tool] = []
    for index, tool in enumerate(tools):
        if tool["type"] != "function":
            family = _family(tool["type"])
            what = f"OpenAI's built-in {family} tool" if family else "not a function tool"
            raise validation(
                f"'tools[{index}]' is {what}, which runs on OpenAI's side: RoutePlex serves "
                "function tools (type 'function'), which every provider can call and your "
                "code runs.",
                f"tools[{index}].type",
            )
        out.append(
            Tool(
                name=tool["name"],
                description=tool.get("description"),
                parameters=tool.get("parameters"),
                strict=tool.get("strict"),
            )
        )
    return tuple(out)


def _tool_choice(choice: Any, parallel: bool | None) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice, (), parallel)
    if isinstance(choice, dict):
        kind = choice["type"]
        if kind == "function" and choice.get("name"):
            return ToolChoice("required", (choice["name"],), parallel)
        if kind == "allowed_tools":
            allowed = choice.get("tools") or ()
            names = tuple(t["name"] for t in allowed if t["type"] == "function" and t.get("name"))
            mode: ChoiceMode = "required" if choice.get("mode") == "required" else "auto"
            return ToolChoice(mode, names, parallel)
        family = _family(kind)
        what = f"OpenAI's built-in {family} tool" if family else "a tool other than a function"
        raise validation(
            f"'tool_choice' names {what}: it must be 'auto', 'none', 'required', a function "
            "({'type': 'function', 'name': …}) or allowed_tools.",
            "tool_choice",
        )
    return ToolChoice("auto", (), parallel) if parallel is not None else None


def _response_format(text: Any) -> ResponseFormat | None:
    spec = text.get("format") if isinstance(text, dict) else None
    if not isinstance(spec, dict):
        return None
    if spec["type"] == "json_object":
        return ResponseFormat()
    if spec["type"] == "json_schema":
        return ResponseFormat(schema=spec["schema"], name=spec["name"], strict=spec.get("strict"))
    return None


def _reasoning(options: Any) -> Reasoning | None:
    effort = options.get("effort") if isinstance(options, dict) else None
    if effort is None:
        return None
    if effort not in _EFFORTS:
        raise validation(
            f"'reasoning.effort' must be one of {', '.join(_EFFORTS)}.", "reasoning.effort"
        )
    return Reasoning(effort=_EFFORTS[effort])
