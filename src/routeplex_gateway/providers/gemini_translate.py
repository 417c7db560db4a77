"""The canonical request → Gemini `generateContent` request.

Decisions (each one a place where the canonical shape, which follows OpenAI, and Gemini
differ):

* the leading system messages become `systemInstruction`; later ones stay where they stand,
  as user-turn text wrapped in `<system_instruction>` tags (`later_system_text`); assistant
  turns have the role `model`, and tool results are `functionResponse` parts in a user turn;
  consecutive turns of one role are merged. An assistant turn's text (refusals included)
  goes first, as one text part, then its calls; thinking parts are left out (Gemini's own
  thought signatures travel in the call ids, see below; another provider's reasoning is not
  Gemini's to read).
* Tool results name their function (Gemini has no call ids): the name is looked up from the
  assistant tool call with the same id, else taken by position among the last assistant
  turn's calls. A result that is a JSON object is sent as the response itself, anything else
  as `{"output": …}` (Gemini's convention for a function's output), or `{"error": …}` for a
  result marked as an error. Thought signatures come back out of the call ids (see
  `gemini_calls`); for Gemini 3 a call from elsewhere (with no signature) gets Google's
  documented placeholder, so foreign history is accepted.
* images: inline bytes become `inlineData`, URLs `fileData` with the media type taken from
  the URL's file extension (the Gemini API fetches public URLs); a URL without an image
  extension is refused (400), not guessed as JPEG, and the gateway does not fetch caller URLs
  itself. Audio and inline documents become `inlineData` too.
* tools use `parametersJsonSchema` and JSON-schema output `responseJsonSchema`, the fields that
  take JSON Schema as it is (no lossy conversion to Gemini's older OpenAPI subset). Before
  Gemini 3, tools and a JSON response type cannot be combined: with tools, JSON is asked for
  by a system instruction instead.
  Tool choice: auto → AUTO, none → NONE, required → ANY, named functions → ANY with
  `allowedFunctionNames` (allowed tools in auto mode: only those tools are declared).
* reasoning sets `thinkingConfig.thinkingBudget` on thinking models (Gemini 2.5 and later):
  an explicit budget as it is, else by effort none 0 (the smallest budget, 128, on pro
  models, which cannot stop thinking), minimal 512, low 1,024, medium 8,192, high 24,576;
  `seed`, `top_k`, `presence_penalty` and `frequency_penalty` are passed as
  `generationConfig.seed` / `topK` / `presencePenalty` / `frequencyPenalty` (a model that
  does not take penalties says so in a 400); `logprobs` and `top_logprobs` become
  `responseLogprobs` and `logprobs`, and the answer's `logprobsResult` comes back as the
  answer's log probabilities. The output cap is `maxOutputTokens`.
* Refused (400 naming the field): parallel tool calls turned off with tools (Gemini has no
  way to keep the model to one call); a part or tool only another wire format's provider
  can read.
* Ignored, having no Gemini equivalent (README lists them): cache marks (Gemini caches
  implicitly), `n`, the end user and the predicted output.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any
from urllib.parse import urlparse

import orjson

from ..canonical import (
    Audio,
    ChatRequest,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Reasoning,
    Refusal,
    ResponseFormat,
    Sampling,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from ..errors import GatewayError, validation
from .gemini_calls import signature_of

WIRE = "gemini"
# Google's documented stand-in signature for calls the model did not make itself.
FOREIGN_CALL_SIGNATURE = "skip_thought_signature_validator"
_THINKING_MODELS = re.compile(r"gemini-(2\.5|[3-9])")
_SIGNATURE_MODELS = re.compile(r"gemini-[3-9]")
_PRO_MIN_BUDGET = 128
_THINKING_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
_PROVIDER = "Gemini"
# What a message may be made of here, named in errors (which never quote the caller's value).
_PART_TYPES = ("text", "image_url", "input_audio", "file")


def model_path(model: str) -> str:
    """The model as it goes into the URL (`models/` is part of the path already)."""
    return model.removeprefix("models/")


def to_gemini(request: ChatRequest, model: str) -> dict[str, Any]:
    tools = _tools(request.tools)
    choice = request.tool_choice
    if choice is not None and choice.parallel is False and tools:
        # Gemini may always answer with several calls and has no switch against it.
        raise validation(
            "At most one tool call per turn ('parallel_tool_calls: false', or Anthropic's "
            "'disable_parallel_tool_use') is not supported by Gemini models.",
            "parallel_tool_calls",
        )
    system, contents = _conversation(request.messages, model)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    if choice is not None and choice.mode == "auto" and choice.names:
        # allowed tools in auto mode: declare only those
        tools = [t for t in tools if not isinstance(t, Tool) or t.name in choice.names]
    if tools:
        functions = [_declaration(t) for t in tools if isinstance(t, Tool)]
        declared = [{"functionDeclarations": functions}] if functions else []
        out["tools"] = declared + [t.value for t in tools if isinstance(t, Opaque)]
        if choice is not None:
            out["toolConfig"] = {"functionCallingConfig": _calling_config(choice)}
    fmt = request.response_format
    if fmt is not None and tools and not _SIGNATURE_MODELS.search(model):
        # Gemini 2.x refuses function calling with a JSON response type (400): ask for the
        # JSON in words instead, as the Anthropic translation does beside caller tools.
        instruction = {"text": json_instruction(fmt)}
        out.setdefault("systemInstruction", {"parts": []})["parts"].append(instruction)
        fmt = None
    config = _generation_config(request, model, fmt)
    if config:
        out["generationConfig"] = config
    return out


def json_instruction(fmt: ResponseFormat) -> str:
    """A system instruction asking for JSON, for when the API has no switch for it."""
    if not fmt.schema:
        return "Respond with a single valid JSON object and nothing else."
    schema = orjson.dumps(fmt.schema).decode()
    return (
        "Respond with a single valid JSON value and nothing else. It must conform to this "
        f"JSON schema: {schema}"
    )


def later_system_text(text: str) -> str:
    """A system message from the middle of a conversation, as the user-turn text that stands
    in for it where it stood: hoisting it into the system prompt would change what it
    applies to, and break the provider's prompt cache on every new reminder."""
    return f"<system_instruction>\n{text}\n</system_instruction>"


def _tools(tools: tuple[Tool | Opaque, ...]) -> list[Tool | Opaque]:
    for index, tool in enumerate(tools):
        if isinstance(tool, Opaque) and tool.wire != WIRE:
            where = tool.where or f"tools[{index}]"
            raise validation(f"'{where}' must be a function tool for this model.", where)
    return list(tools)


class _Turns:
    """The `contents` being built: consecutive turns of one role merge, empty ones vanish."""

    def __init__(self) -> None:
        self.contents: list[dict[str, Any]] = []

    def add(self, role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return  # an empty turn (`parts: []`) is refused by Gemini
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})


def _conversation(messages: list[Message], model: str) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    turns = _Turns()
    names_by_id: dict[str, str] = {}
    last_calls: list[str] = []  # names of the last assistant turn's calls, in order
    answered = 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if message.role == "system":
            text = _text_only(message.parts, where)
            if text and not turns.contents:
                system.append(text)
            elif text:
                turns.add("user", [{"text": later_system_text(text)}])
        elif message.role == "user":
            turns.add("user", _user_parts(message, where))
        elif message.role == "assistant":
            parts, calls = _assistant_parts(message, where, model)
            last_calls, answered = [c["functionCall"]["name"] for _, c in calls], 0
            for call, part in calls:
                if call.id:
                    names_by_id[call.id] = part["functionCall"]["name"]
            turns.add("model", parts + [part for _, part in calls])
        else:
            for result in message.parts:
                if not isinstance(result, ToolResult):
                    continue  # a tool message holds only results
                name = names_by_id.get(result.call_id)
                if name is None and answered < len(last_calls):
                    name = last_calls[answered]
                if name is None:
                    raise validation(
                        f"'{where}.tool_call_id' does not answer a tool call of the conversation.",
                        f"{where}.tool_call_id",
                    )
                answered += 1
                texts = tuple(p for p in result.parts if isinstance(p, Text | Refusal))
                response = _response(_text_only(texts, where), error=result.is_error)
                parts = [{"functionResponse": {"name": name, "response": response}}]
                # A function response holds JSON only: the result's images and documents
                # follow it in the same turn, after a line naming the call they came from.
                others = (p for p in result.parts if not isinstance(p, Text | Refusal))
                attached = Message("user", tuple(others))
                if attached.parts:
                    parts.append({"text": f"Attachments of the result of tool call {name}:"})
                    parts += _user_parts(attached, f"{where}.content")
                turns.add("user", parts)
    if not turns.contents:
        raise validation(
            f"The messages hold no content to send to {_PROVIDER} models (every text is empty).",
            "messages",
        )
    return system, turns.contents


def _text_only(parts: tuple[Any, ...], where: str) -> str:
    """The text of a message that may hold only text (system messages, tool results)."""
    texts: list[str] = []
    for index, part in enumerate(parts):
        if not isinstance(part, Text | Refusal):
            raise _not_text(f"{where}.content[{index}]")
        texts.append(part.text)
    return "\n".join(texts)


def _not_text(where: str) -> GatewayError:
    return validation(f"'{where}' must be a text part here.", where)


def _assistant_parts(
    message: Message, where: str, model: str
) -> tuple[list[dict[str, Any]], list[tuple[ToolCall, dict[str, Any]]]]:
    """The turn's text (one part) and its calls, each with the part it becomes."""
    texts: list[str] = []
    own: list[dict[str, Any]] = []  # parts in Gemini's own terms, as they came
    calls: list[tuple[ToolCall, dict[str, Any]]] = []
    for index, part in enumerate(message.parts):
        if isinstance(part, Text | Refusal):
            texts.append(part.text)
        elif isinstance(part, ToolCall):
            call_where = f"{where}.tool_calls[{len(calls)}]"
            calls.append((part, _function_call(part, call_where)))
        elif isinstance(part, Opaque) and part.wire == WIRE:
            own.append(part.value)
        elif not isinstance(part, Thinking):
            raise _not_text(f"{where}.content[{index}]")
    if calls and _SIGNATURE_MODELS.search(model) and "thoughtSignature" not in calls[0][1]:
        calls[0][1]["thoughtSignature"] = FOREIGN_CALL_SIGNATURE
    text = "\n".join(texts)
    return ([{"text": text}] if text else []) + own, calls


def _function_call(call: ToolCall, where: str) -> dict[str, Any]:
    if not call.name:
        raise validation(f"'{where}.function.name' is required.", f"{where}.function.name")
    part: dict[str, Any] = {"functionCall": {"name": call.name, "args": _arguments(call, where)}}
    signature = signature_of(call.id) if call.id else None
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(call: ToolCall, where: str) -> dict[str, Any]:
    """A call's arguments JSON text as the object Gemini takes."""
    if call.arguments == "":
        return {}
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise validation(
            f"'{where}.function.arguments' must be a JSON object.", f"{where}.function.arguments"
        )
    return value


def _response(text: str, *, error: bool) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    if error:
        return {"error": value}
    return value if isinstance(value, dict) else {"output": value}


def _user_parts(message: Message, where: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(message.parts):
        part_where = f"{where}.content[{index}]"
        if isinstance(part, Text | Refusal):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, Image):
            parts.append(_image(part.media, part_where))
        elif isinstance(part, Audio) and part.media.data is not None:
            parts.append(_inline(part.media))
        elif isinstance(part, Document):
            if part.media.data is None:
                raise validation(f"'{part_where}.file' must hold base64 file data.", part_where)
            parts.append(_inline(part.media))
        elif isinstance(part, Opaque) and part.wire == WIRE:
            parts.append(part.value)
        elif isinstance(part, Thinking):
            continue  # reasoning is the model's own, never the user's
        else:
            where_named = part.where if isinstance(part, Opaque) and part.where else part_where
            raise validation(
                f"'{where_named}.type' must be one of {', '.join(_PART_TYPES)} "
                f"for {_PROVIDER} models.",
                f"{where_named}.type",
            )
    return parts


def _inline(media: Media) -> dict[str, Any]:
    mime = media.media_type or "application/octet-stream"
    return {"inlineData": {"mimeType": mime, "data": media.data or ""}}


def _image(media: Media, where: str) -> dict[str, Any]:
    if media.data is not None:
        return _inline(media)
    url = media.url or ""
    guessed, _ = mimetypes.guess_type(urlparse(url).path)
    if guessed is None or not guessed.startswith("image/"):
        # Gemini needs the type with the URL; guessing JPEG made a PNG or WebP a wrong
        # request. The gateway does not fetch caller URLs itself (that would let callers
        # reach whatever the gateway can), so the caller says it: a data: URL or an extension.
        raise validation(
            f"'{where}.image_url.url' has no image file extension, so its media type is "
            "unknown to Gemini; send the image as a data: URL or use a URL ending in "
            ".png, .jpg, .webp, .gif or similar.",
            f"{where}.image_url",
        )
    return {"fileData": {"mimeType": guessed, "fileUri": url}}


def _declaration(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    if tool.parameters:
        out["parametersJsonSchema"] = tool.parameters
    return out


def _calling_config(choice: ToolChoice) -> dict[str, Any]:
    if choice.mode == "none":
        return {"mode": "NONE"}
    if choice.mode == "auto":
        return {"mode": "AUTO"}
    config: dict[str, Any] = {"mode": "ANY"}
    if choice.names:
        config["allowedFunctionNames"] = list(choice.names)
    return config


def _generation_config(
    request: ChatRequest, model: str, fmt: ResponseFormat | None
) -> dict[str, Any]:
    sampling: Sampling = request.sampling
    config: dict[str, Any] = {}
    for value, target in (
        (sampling.temperature, "temperature"),
        (sampling.top_p, "topP"),
        (sampling.top_k, "topK"),
        (sampling.seed, "seed"),
        (sampling.presence_penalty, "presencePenalty"),
        (sampling.frequency_penalty, "frequencyPenalty"),
    ):
        if value is not None:
            config[target] = value
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens
    if sampling.logprobs or sampling.top_logprobs is not None:
        config["responseLogprobs"] = True
        if sampling.top_logprobs is not None:
            config["logprobs"] = sampling.top_logprobs
    if sampling.stop:
        config["stopSequences"] = list(sampling.stop)
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt.schema:  # a JSON-schema format without a schema ({}) asks for any JSON
            config["responseJsonSchema"] = fmt.schema
    budget = _budget(request.reasoning)
    if budget is not None and _THINKING_MODELS.search(model):
        if budget == 0 and "-pro" in model:
            budget = _PRO_MIN_BUDGET  # pro models cannot stop thinking: think the least
        config["thinkingConfig"] = {"thinkingBudget": budget}
    return config


def _budget(reasoning: Reasoning | None) -> int | None:
    if reasoning is None:
        return None
    if reasoning.budget is not None and reasoning.effort != "none":
        return reasoning.budget
    return _THINKING_BUDGET.get(reasoning.effort) if reasoning.effort is not None else None
