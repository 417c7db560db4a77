"""The canonical request → an OpenAI Chat Completions body, for OpenAI and every
OpenAI-compatible server.

A request that came in OpenAI's own shape is forwarded as the caller sent it (`forwarded`):
every field passes through, only the model, `stream` (with usage asked for) and an output cap
the gateway set or lowered change. Any other request is encoded from the typed shape
(`encoded`), choosing at each place the form the most OpenAI-compatible servers accept:

* text-only system, assistant and tool content is sent as one string (DeepSeek, older vLLM
  and Ollama take no arrays there): system texts joined by blank lines, assistant texts
  joined as they are, a tool result's texts by newlines;
* a tool result that is an error says so in a first line (OpenAI has no flag for it); its
  images and documents, which tool messages cannot hold, go in a user message after the
  results, after a line naming the call they came from;
* thinking parts are left out (no other provider can read their signatures), and so are
  cache marks (OpenAI caches prompts by itself; not every compatible server takes them);
* the output cap is `max_completion_tokens` for OpenAI itself (its reasoning models refuse
  the legacy name) and `max_tokens` for every other server (the name they all know);
* `top_k`, which OpenAI has no field for, is left out.

A part or tool only another wire format's provider can read (`Opaque`) is the caller's 400,
naming the field, never its value.
"""

from __future__ import annotations

import re
from typing import Any

from ..canonical import (
    Audio,
    ChatRequest,
    Deployment,
    Document,
    Image,
    Message,
    Opaque,
    Part,
    Reasoning,
    Refusal,
    ResponseFormat,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from ..errors import GatewayError, validation

WIRE = "openai"
TOOL_ERROR_LINE = "[The tool reported an error.]"
_PART_TYPES = ("text", "image_url", "input_audio", "file")
# Anthropic's thinking budgets read as an effort (the budgets the Anthropic translator
# gives each effort, ascending): below 4,096 low, below 16,384 medium, else high.
_EFFORT_BY_BUDGET = ((16384, "high"), (4096, "medium"), (0, "low"))
# OpenAI's models that take `reasoning_effort` (the o-series and GPT-5 on); the others
# (gpt-4o, gpt-4.1) refuse it, so a translated request's reasoning — Anthropic's `thinking`,
# say — is left out for them, as Gemini's translation leaves it out for models that do not
# think. An OpenAI-shaped caller's own body still goes as it was sent.
_REASONING_MODELS = re.compile(r"(o\d|gpt-5)")
# Audio media types as OpenAI's `input_audio.format` names them.
_AUDIO_FORMATS = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav"}


def request_body(request: ChatRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    """The body to send: the caller's own when it came in OpenAI's shape, else encoded."""
    native = request.native_for(WIRE)
    if native is not None:
        return forwarded(native, request, deployment, stream=stream)
    return encoded(request, deployment, stream=stream)


def forwarded(
    native: dict[str, Any], request: ChatRequest, deployment: Deployment, *, stream: bool
) -> dict[str, Any]:
    """The caller's OpenAI body with the model, `stream` and the output cap set."""
    body = {**native, "model": deployment.upstream_model, "stream": stream}
    if stream:
        options = native.get("stream_options")
        options = dict(options) if isinstance(options, dict) else {}
        options["include_usage"] = True  # always bill from the provider's own count
        body["stream_options"] = options
    else:
        body.pop("stream_options", None)
    cap = request.max_output_tokens
    if cap is None:
        return body
    if request.output_cap_added:
        if deployment.provider == "openai":
            # OpenAI's reasoning models refuse the legacy name; every OpenAI model takes this.
            body.pop("max_tokens", None)
            body["max_completion_tokens"] = cap
        else:
            body["max_tokens"] = cap
        return body
    name = "max_tokens" if body.get("max_completion_tokens") is None else "max_completion_tokens"
    given = body.get(name)
    if not isinstance(given, int) or cap < given:
        body[name] = cap  # the gateway lowered the caller's cap (to the model's maximum)
    return body


def encoded(request: ChatRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    """The typed request as an OpenAI Chat Completions body."""
    body: dict[str, Any] = {
        "model": deployment.upstream_model,
        "messages": messages(request.messages),
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if request.max_output_tokens is not None:
        cap_name = "max_completion_tokens" if deployment.provider == "openai" else "max_tokens"
        body[cap_name] = request.max_output_tokens
    if request.tools:
        body["tools"] = [_tool(tool, index) for index, tool in enumerate(request.tools)]
        _tool_choice(body, request.tool_choice)
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    effort = _effort(request.reasoning)
    if effort is not None and (
        deployment.provider != "openai" or _REASONING_MODELS.match(deployment.upstream_model)
    ):
        body["reasoning_effort"] = effort
    _sampling(body, request, deployment)
    if request.user is not None:
        body["user"] = request.user
    if request.prediction is not None:
        body["prediction"] = {"type": "content", "content": request.prediction}
    return body


def messages(turns: list[Message]) -> list[dict[str, Any]]:
    """The canonical messages as OpenAI's (a tool message of several results becomes one
    message per result, and its attachments a user message after them)."""
    out: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    for index, message in enumerate(turns):
        where = f"messages[{index}]"
        if message.role == "tool":
            out.extend(_tool_results(message, where, attachments))
            continue
        if attachments:
            if message.role == "user":
                # The results' attachments open the turn that followed them, as they came.
                out.append(_user(message, where, attachments))
                attachments = []
                continue
            out.append({"role": "user", "content": attachments})
            attachments = []
        if message.role == "assistant":
            assistant = _assistant(message, where)
            if assistant is not None:
                out.append(assistant)
        elif message.role == "system":
            out.append(_named({"role": "system", "content": _system(message, where)}, message))
        else:
            out.append(_user(message, where, []))
    if attachments:
        out.append({"role": "user", "content": attachments})
    return out


def _named(out: dict[str, Any], message: Message) -> dict[str, Any]:
    if message.name is not None:
        out["name"] = message.name
    return out


def _system(message: Message, where: str) -> str | list[dict[str, Any]]:
    if all(isinstance(part, Text) for part in message.parts):
        return "\n\n".join(part.text for part in message.parts if isinstance(part, Text))
    return _parts(message.parts, where)


def _user(message: Message, where: str, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    parts = message.parts
    content: str | list[dict[str, Any]]
    if not attachments and len(parts) == 1 and isinstance(parts[0], Text):
        content = parts[0].text
    elif not attachments and not parts:
        content = ""  # OpenAI refuses an empty array of parts
    else:
        content = attachments + _parts(parts, where)
    return _named({"role": "user", "content": content}, message)


def _parts(parts: tuple[Part, ...], where: str) -> list[Any]:
    out = []
    for index, part in enumerate(parts):
        encoded_part = _part(part, f"{where}.content[{index}]")
        if encoded_part is not None:
            out.append(encoded_part)
    return out


def _part(part: Part, where: str) -> Any:
    """One content part in OpenAI's shape (an OpenAI part the gateway does not model: as the
    caller sent it); None for what OpenAI cannot read and the conversation does without
    (thinking)."""
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Image):
        image: dict[str, Any] = {"url": part.media.data_url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, Audio):
        media = part.media
        if media.data is None:
            raise validation(
                f"'{where}' must be inline audio (base64 data) for OpenAI-shaped models.", where
            )
        subtype = (media.media_type or "audio/wav").split("/")[-1]
        audio_format = _AUDIO_FORMATS.get(media.media_type or "", subtype)
        return {"type": "input_audio", "input_audio": {"data": media.data, "format": audio_format}}
    if isinstance(part, Document):
        if part.media.data is None:
            raise validation(
                f"'{where}' must be an inline document (base64 data) for OpenAI-shaped models.",
                where,
            )
        file = {"filename": part.filename or "document.pdf", "file_data": part.media.data_url}
        return {"type": "file", "file": file}
    if isinstance(part, Opaque):
        return _opaque(part, where)
    if isinstance(part, Refusal):
        return {"type": "refusal", "refusal": part.text}
    if isinstance(part, Thinking):
        return None
    raise unsupported_part(where)  # a tool call or result outside its place


def _opaque(part: Opaque, where: str) -> Any:
    if part.wire != WIRE:
        raise unsupported_part(part.where or where)
    return part.value


def unsupported_part(where: str) -> GatewayError:
    """A part only another wire format's models read: the field and the types OpenAI-shaped
    models take (never the caller's type, which may be anything)."""
    return validation(
        f"'{where}.type' must be one of {', '.join(_PART_TYPES)} for OpenAI-shaped models.",
        f"{where}.type",
    )


def _assistant(message: Message, where: str) -> dict[str, Any] | None:
    """The assistant turn; None when nothing in it is readable here (only thinking)."""
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    refusal: str | None = None
    for index, part in enumerate(message.parts):
        if isinstance(part, Text):
            texts.append(part.text)
        elif isinstance(part, ToolCall):
            function = {"name": part.name, "arguments": part.arguments or "{}"}
            calls.append({"id": part.id, "type": "function", "function": function})
        elif isinstance(part, Refusal):
            refusal = part.text if refusal is None else refusal + part.text
        elif not isinstance(part, Thinking):
            opaque = _part(part, f"{where}.content[{index}]")
            if opaque is not None:
                others.append(opaque)
    if not texts and not others and not calls and refusal is None:
        return None
    content: str | list[dict[str, Any]] | None
    if others:
        content = [{"type": "text", "text": text} for text in texts] + others
    else:
        content = "".join(texts) if texts else None
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        out["refusal"] = refusal
    if calls:
        out["tool_calls"] = calls
    return _named(out, message)


def _tool_results(
    message: Message, where: str, attachments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for index, result in enumerate(message.parts):
        if not isinstance(result, ToolResult):
            raise unsupported_part(f"{where}.content[{index}]")
        texts: list[str] = []
        parts: list[dict[str, Any]] = []
        media: list[dict[str, Any]] = []
        for part_index, part in enumerate(result.parts):
            part_where = f"{where}.content[{index}].content[{part_index}]"
            if isinstance(part, Text):
                texts.append(part.text)
            elif isinstance(part, Opaque):
                parts.append(_opaque(part, part_where))
            else:
                encoded_part = _part(part, part_where)
                if encoded_part is not None:
                    media.append(encoded_part)
        if media:
            # Only text fits in a tool message: the rest follows, saying whose it is.
            line = f"Attachments of the result of tool call {result.call_id}:"
            attachments.extend([{"type": "text", "text": line}, *media])
        text = "\n".join(texts)
        if result.is_error:
            text = f"{TOOL_ERROR_LINE}\n{text}" if text else TOOL_ERROR_LINE
        content: str | list[dict[str, Any]] = text
        if parts:
            content = ([{"type": "text", "text": text}] if text else []) + parts
        out.append({"role": "tool", "tool_call_id": result.call_id, "content": content})
    return out


def _tool(tool: Tool | Opaque, index: int) -> Any:
    if isinstance(tool, Opaque):
        if tool.wire != WIRE:
            where = tool.where or f"tools[{index}]"
            raise validation(f"'{where}' must be a function tool for this model.", where)
        return tool.value
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(body: dict[str, Any], choice: ToolChoice | None) -> None:
    """`tool_choice` and `parallel_tool_calls` (OpenAI takes either only with tools)."""
    if choice is None:
        return
    if choice.parallel is not None:
        body["parallel_tool_calls"] = choice.parallel
    names = choice.names
    if not names or choice.mode == "none":
        body["tool_choice"] = choice.mode
    elif choice.mode == "required" and len(names) == 1:
        body["tool_choice"] = {"type": "function", "function": {"name": names[0]}}
    else:
        tools = [{"type": "function", "function": {"name": name}} for name in names]
        allowed = {"mode": choice.mode, "tools": tools}
        body["tool_choice"] = {"type": "allowed_tools", "allowed_tools": allowed}


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.schema is None:
        return {"type": "json_object"}
    spec: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.schema}
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


def _effort(reasoning: Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    if reasoning.effort is not None:
        return reasoning.effort
    if reasoning.budget is None:
        return None
    if reasoning.budget <= 0:
        return "none"
    return next(effort for floor, effort in _EFFORT_BY_BUDGET if reasoning.budget >= floor)


def _sampling(body: dict[str, Any], request: ChatRequest, deployment: Deployment) -> None:
    sampling = request.sampling
    fields: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sampling.seed,
        "frequency_penalty": sampling.frequency_penalty,
        "presence_penalty": sampling.presence_penalty,
        "n": sampling.n,
        "top_logprobs": sampling.top_logprobs,
    }
    both = sampling.top_p is not None and sampling.temperature is not None
    if both and not deployment.temperature_with_top_p:
        del fields["top_p"]  # the model refuses both: the temperature is the one asked for
    body.update((name, value) for name, value in fields.items() if value is not None)
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if sampling.logprobs:
        body["logprobs"] = True
