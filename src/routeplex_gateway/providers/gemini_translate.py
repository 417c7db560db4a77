"""OpenAI Chat Completions request → Gemini `generateContent` request.

Decisions (each one a place where the two APIs differ):

* the leading system and developer messages become `systemInstruction`; later ones stay where
  they stand, as user-turn text wrapped in `<system_instruction>` tags
  (`openai_request.later_system_text`); assistant turns have the role
  `model`, and tool results are `functionResponse` parts in a user turn; consecutive turns of
  one role are merged.
* Tool results name their function (Gemini has no call ids): the name is looked up from the
  assistant tool call with the same id, else taken by position among the last assistant
  turn's calls. A result that is a JSON object is sent as the response itself, anything else
  as `{"output": …}` (Gemini's convention for a function's output). Thought signatures come
  back out of the call ids (see `gemini_calls`); for Gemini 3 a call from elsewhere (with no
  signature) gets Google's documented placeholder, so foreign history is accepted.
* images: `data:` URLs become `inlineData`, other URLs `fileData` with the media type taken
  from the URL's file extension (the Gemini API fetches public URLs); a URL without an image
  extension is refused (400), not guessed as JPEG, and the gateway does not fetch caller URLs
  itself. `input_audio` and base64 `file` parts become `inlineData` too.
* tools use `parametersJsonSchema` and JSON-schema output `responseJsonSchema`, the fields that
  take JSON Schema as it is (no lossy conversion to Gemini's older OpenAPI subset). Before
  Gemini 3, tools and a JSON response type cannot be combined: with tools, JSON is asked for
  by a system instruction instead.
  `tool_choice`: auto → AUTO, none → NONE, required → ANY, a named function → ANY with
  `allowedFunctionNames`.
* `reasoning_effort` sets `thinkingConfig.thinkingBudget` on thinking models (Gemini 2.5 and
  later): none 0 (the smallest budget, 128, on pro models, which cannot stop thinking),
  minimal 512, low 1,024, medium 8,192, high 24,576; `seed`, `presence_penalty` and
  `frequency_penalty` are passed as `generationConfig.seed` / `presencePenalty` /
  `frequencyPenalty` (a model that does not take penalties says so in a 400); `logprobs` and
  `top_logprobs` become `responseLogprobs` and `logprobs`, and the answer's
  `logprobsResult` comes back as OpenAI's `logprobs`.
* Refused (400 naming the field): `parallel_tool_calls: false` with tools (Gemini has no
  way to keep the model to one call).
* Ignored, having no Gemini equivalent (README lists them): `logit_bias`, `n`, `user`,
  `safety_identifier`, `stream_options`, `service_tier`, `store`, `metadata`, `prediction`,
  `modalities`, `audio`, `web_search_options`, `prompt_cache_key`, `verbosity`, `functions` /
  `function_call`.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any
from urllib.parse import urlparse

import orjson

from ..errors import validation
from . import openai_request as oa
from .gemini_calls import signature_of

# Google's documented stand-in signature for calls the model did not make itself.
FOREIGN_CALL_SIGNATURE = "skip_thought_signature_validator"
_THINKING_MODELS = re.compile(r"gemini-(2\.5|[3-9])")
_SIGNATURE_MODELS = re.compile(r"gemini-[3-9]")
_PRO_MIN_BUDGET = 128
_THINKING_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
_PROVIDER = "Gemini"
# What a message may be made of here, named in errors (which never quote the caller's value).
_PART_TYPES = ("text", "image_url", "input_audio", "file")
_ROLES = ("system", "developer", "user", "assistant", "tool")


def model_path(model: str) -> str:
    """The model as it goes into the URL (`models/` is part of the path already)."""
    return model.removeprefix("models/")


def to_gemini(body: dict[str, Any], model: str) -> dict[str, Any]:
    if body.get("parallel_tool_calls") is False and oa.function_tools(body):
        # Gemini may always answer with several calls and has no switch against it.
        raise validation(
            "'parallel_tool_calls: false' is not supported by Gemini models.",
            "parallel_tool_calls",
        )
    system, contents = _conversation(body.get("messages") or [], model)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    tools = oa.function_tools(body)
    choice = oa.tool_choice(body)
    if choice is not None and choice.mode == "auto" and choice.names:
        tools = [t for t in tools if t.name in choice.names]  # allowed_tools in auto mode
    if tools:
        out["tools"] = [{"functionDeclarations": [_declaration(t) for t in tools]}]
        if choice is not None:
            out["toolConfig"] = {"functionCallingConfig": _calling_config(choice)}
    fmt = oa.json_format(body)
    if fmt is not None and tools and not _SIGNATURE_MODELS.search(model):
        # Gemini 2.x refuses function calling with a JSON response type (400): ask for the
        # JSON in words instead, as the Anthropic translation does beside caller tools.
        instruction = {"text": oa.json_instruction(fmt)}
        out.setdefault("systemInstruction", {"parts": []})["parts"].append(instruction)
        fmt = None
    config = _generation_config(body, model, fmt)
    if config:
        out["generationConfig"] = config
    return out


def _conversation(messages: list[Any], model: str) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names_by_id: dict[str, str] = {}
    last_calls: list[str] = []  # names of the last assistant turn's calls, in order
    answered = 0

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return  # an empty turn (`parts: []`) is refused by Gemini
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            text = oa.text_only(content, where)
            if text and not contents:
                system.append(text)
            elif text:
                add("user", [{"text": oa.later_system_text(text)}])
        elif role == "user":
            add("user", _parts(content, where))
        elif role == "assistant":
            text = oa.text_only(content, where)
            parts = [{"text": text}] if text else []
            calls = _calls(message.get("tool_calls") or [], where, model)
            last_calls, answered = [c["functionCall"]["name"] for c in calls], 0
            for call, raw in zip(calls, message.get("tool_calls") or [], strict=True):
                if isinstance(raw.get("id"), str):
                    names_by_id[raw["id"]] = call["functionCall"]["name"]
            if parts or calls:
                add("model", [*parts, *calls])
        elif role == "tool":
            call_id = message.get("tool_call_id")
            name = names_by_id.get(call_id) if isinstance(call_id, str) else None
            if name is None and answered < len(last_calls):
                name = last_calls[answered]
            if name is None:
                raise validation(
                    f"'{where}.tool_call_id' does not answer a tool call of the conversation.",
                    f"{where}.tool_call_id",
                )
            answered += 1
            response = _response(oa.text_only(content, where))
            add("user", [{"functionResponse": {"name": name, "response": response}}])
        else:
            raise validation(
                f"'{where}.role' must be one of {', '.join(_ROLES)} for Gemini models.",
                f"{where}.role",
            )
    if not contents:
        raise oa.no_content(_PROVIDER)
    return system, contents


def _calls(tool_calls: list[Any], where: str, model: str) -> list[dict[str, Any]]:
    parts = []
    for i, call in enumerate(tool_calls):
        call_where = f"{where}.tool_calls[{i}]"
        part: dict[str, Any] = {
            "functionCall": {
                "name": oa.call_name(call, call_where),
                "args": oa.call_arguments(call, call_where),
            }
        }
        signature = signature_of(call["id"]) if isinstance(call.get("id"), str) else None
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    if parts and _SIGNATURE_MODELS.search(model) and "thoughtSignature" not in parts[0]:
        parts[0]["thoughtSignature"] = FOREIGN_CALL_SIGNATURE
    return parts


def _response(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    return value if isinstance(value, dict) else {"output": value}


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(oa.parts(content, where)):
        part_where = f"{where}.content[{index}]"
        kind = part.get("type")
        if kind == "text":
            if isinstance(part.get("text"), str) and part["text"]:
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            parts.append(_media(oa.image_url(part, part_where), part_where))
        elif kind == "input_audio" and isinstance(part.get("input_audio"), dict):
            audio = part["input_audio"]
            mime = f"audio/{audio.get('format') or 'wav'}"
            parts.append({"inlineData": {"mimeType": mime, "data": audio.get("data") or ""}})
        elif kind == "file" and isinstance(part.get("file"), dict):
            inline = oa.data_url(part["file"].get("file_data") or "")
            if inline is None:
                raise validation(f"'{part_where}.file' must hold base64 file data.", part_where)
            parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
        else:
            raise oa.unsupported_part(part_where, _PROVIDER, _PART_TYPES)
    return parts


def _media(url: str, where: str) -> dict[str, Any]:
    inline = oa.data_url(url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
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


def _declaration(tool: oa.FunctionTool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    if tool.parameters:
        out["parametersJsonSchema"] = tool.parameters
    return out


def _calling_config(choice: oa.ToolChoice) -> dict[str, Any]:
    if choice.mode == "none":
        return {"mode": "NONE"}
    if choice.mode == "auto":
        return {"mode": "AUTO"}
    config: dict[str, Any] = {"mode": "ANY"}
    if choice.names:
        config["allowedFunctionNames"] = list(choice.names)
    return config


def _generation_config(
    body: dict[str, Any], model: str, fmt: oa.JsonFormat | None
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for source, target in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        value = body.get(source)
        if isinstance(value, int | float) and not isinstance(value, bool):
            config[target] = value
    max_tokens = oa.max_output_tokens(body)
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    top_logprobs = body.get("top_logprobs")
    if body.get("logprobs") is True or isinstance(top_logprobs, int):
        config["responseLogprobs"] = True
        if isinstance(top_logprobs, int) and not isinstance(top_logprobs, bool):
            config["logprobs"] = top_logprobs
    stop = oa.stop_sequences(body)
    if stop:
        config["stopSequences"] = stop
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt.schema is not None:
            config["responseJsonSchema"] = fmt.schema
    budget = _THINKING_BUDGET.get(str(body.get("reasoning_effort")))
    if budget is not None and _THINKING_MODELS.search(model):
        if budget == 0 and "-pro" in model:
            budget = _PRO_MIN_BUDGET  # pro models cannot stop thinking: think the least
        config["thinkingConfig"] = {"thinkingBudget": budget}
    return config
