"""The canary traffic of OpenAI's Responses surface: every place a Responses caller can put
text — `instructions`, input text and output_text parts, images and files, function tools
(name, description, schema), function_call arguments and function_call_output, reasoning
summaries and encrypted_content, `text.format`'s schema, `metadata`, `user`, headers, the
query string — on GPT, Claude and Gemini models, plain and streamed; upstreams that quote the
prompt back in answers, error texts and broken streams (the OpenAI-shaped echo upstream);
simulated faults; a client leaving mid-stream; the stateless refusals and the stored-response
routes with canaries in their bodies and paths; and refusals of bad fields holding canaries.

As in `traffic.py`, each case checks its status, and the echo cases that the canary really
went to the provider and came back to the caller (and only there).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.privacy.surface_traffic import SurfaceTraffic

RESPONSES = "/v1/responses"
MODELS = ("gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash")
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
    "rkJggg=="
)


class ResponsesTraffic(SurfaceTraffic):
    path = RESPONSES
    first_delta = "event: response.output_text.delta"

    # --- helpers ---------------------------------------------------------------------------
    def headers(self, label: str | None = None, key: str | None = None) -> dict[str, str]:
        sent = {"Authorization": f"Bearer {key or self.t.messages_key}"}
        if label is not None:
            sent["x-canary"] = self.c.new(f"{label}/header")
            sent["user-agent"] = self.c.new(f"{label}/user-agent")
        return sent

    def post(self, label: str, body: Any, status: int, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", None) or self.headers()
        path = kw.pop("path", RESPONSES)
        return self.expect(self.http.post(path, json=body, headers=headers, **kw), status, label)

    def hello(self, label: str, model: str, **fields: Any) -> dict[str, Any]:
        text = f"Please keep this safe: {self.c.new(label)}"
        return {"model": model, "input": text, "max_output_tokens": 300, **fields}

    def rich(self, label: str, model: str) -> dict[str, Any]:
        """A Responses request with a canary in every place a caller can put text."""

        def c(part: str) -> str:
            return self.c.new(f"{label}/{part}")

        tool = c("tool-name")
        document = base64.b64encode(f"%PDF-1.4 {c('file')}".encode()).decode()
        return {
            "model": model,
            "max_output_tokens": 400,
            "instructions": f"You are careful. {c('instructions')}",
            "input": [
                {"role": "developer", "content": c("developer")},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": f"Look up {c('text')}"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                        {
                            "type": "input_file",
                            "filename": f"{c('filename')}.pdf",
                            "file_data": f"data:application/pdf;base64,{document}",
                        },
                    ],
                },
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": c("reasoning")}],
                    "encrypted_content": c("sealed"),
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": c("assistant"), "annotations": []}],
                },
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": tool,
                    "arguments": f'{{"q": "{c("arguments")}"}}',
                },
                {"type": "function_call_output", "call_id": "call_1", "output": c("output")},
                {"role": "user", "content": f"Thanks. {c('last')}"},
            ],
            "tools": [
                {
                    "type": "function",
                    "name": tool,
                    "description": f"Finds {c('tool-description')}",
                    "parameters": {
                        "type": "object",
                        "properties": {"q": {"type": "string", "description": c("schema")}},
                        "required": ["q"],
                    },
                }
            ],
            "tool_choice": "auto",
            "metadata": {"ticket": c("metadata")},
            "user": c("user"),
            "include": ["reasoning.encrypted_content"],
            "store": True,
        }

    # --- the cases -------------------------------------------------------------------------
    def run(self) -> None:
        for case in (self.served, self.echoed, self.failed, self.stateless, self.refused):
            case()

    def served(self) -> None:
        for model in MODELS:
            label = f"responses.{model}"
            query = {"trace": self.c.new(f"{label}/query")}
            body = self.rich(label, model)
            answer = self.post(label, body, 200, headers=self.headers(label), params=query)
            assert answer.json()["object"] == "response" and answer.json()["store"] is False
            label += ".stream"
            streamed = self.stream(label, self.rich(label, model), headers=self.headers(label))
            assert "event: response.completed" in streamed, streamed[-300:]
            label = f"responses.{model}.format"
            schema = {
                "type": "object",
                "properties": {"a": {"type": "string", "description": self.c.new(label)}},
                "required": ["a"],
            }
            fmt = {"format": {"type": "json_schema", "name": "answer", "schema": schema}}
            self.post(label, self.hello(f"{label}.input", model, text=fmt), 200)

    def echoed(self) -> None:
        """An upstream that quotes the prompt back: in answers, error texts, broken streams."""
        label = "responses.echo"
        answer = self.post(label, self.hello(label, "echo/echo"), 200)
        assert self.c.by_label[label] in answer.text
        label += ".stream"
        streamed = self.stream(label, self.hello(label, "echo/echo"))
        assert self.c.by_label[label] in streamed
        label = "responses.bad-request"
        refused = self.post(label, self.hello(label, "echo/bad-request"), 400)
        assert self.c.by_label[label] in refused.text
        label = "responses.server-error"
        self.post(label, self.hello(label, "echo/server-error"), 502)
        label = "responses.malformed"
        broken = self.stream(label, self.hello(label, "echo/malformed"))
        assert "event: response.failed" in broken, broken[-300:]
        label = "responses.hang"
        self.post(label, self.hello(label, "echo/hang", max_output_tokens=25), 504)
        label = "responses.disconnect"
        self.stream(label, self.hello(label, "echo/slow"), leave_early=True)

    def failed(self) -> None:
        model = "gemini-2.5-flash"
        self.fault(model=model, status=500, count=1)
        label = "responses.simulated-500"
        self.post(label, self.hello(label, model), 502)
        self.fault(model=model, cut_after_chunks=2, count=1)
        label = "responses.cut"
        broken = self.stream(label, self.hello(label, model, max_output_tokens=300))
        assert "event: response.failed" in broken, broken[-300:]
        label = "responses.after-faults"
        self.post(label, self.hello(label, model), 200)

    def stateless(self) -> None:
        c = self.c.new
        ok = "gpt-4o-mini"
        for name in ("previous_response_id", "conversation"):
            label = f"responses.{name}"
            self.post(label, self.hello(label, ok, **{name: c(f"{label}.value")}), 400)
        label = "responses.item-reference"
        body = self.hello(label, ok, input=[{"type": "item_reference", "id": c(f"{label}.id")}])
        self.post(label, body, 400)
        for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/input_items")):
            path = f"{RESPONSES}/{c(f'responses.stored {method}{suffix}')}{suffix}"
            self.expect(self.http.request(method, path, headers=self.headers()), 404, path)
        path = f"{RESPONSES}/{c('responses.cancel')}/cancel"
        self.expect(self.http.post(path, headers=self.headers()), 404, path)

    def refused(self) -> None:
        c = self.c.new
        ok = "gpt-4o-mini"
        for label, fields in (
            ("responses.bad-model", {"model": c("responses.model")}),
            ("responses.bad-input", {"input": [{"role": c("responses.role"), "content": "x"}]}),
            ("responses.bad-part", {"input": [{"role": "user", "content": [{"type": c("p")}]}]}),
            ("responses.bad-item", {"input": [{"type": c("responses.item")}]}),
            ("responses.built-in", {"tools": [{"type": "web_search", "q": c("responses.ws")}]}),
            ("responses.bad-tool", {"tools": [{"type": c("responses.tool-type")}]}),
            ("responses.bad-cap", {"max_output_tokens": c("responses.cap")}),
            ("responses.bad-effort", {"reasoning": {"effort": c("responses.effort")}}),
            ("responses.bad-choice", {"tool_choice": c("responses.choice")}),
            ("responses.bad-format", {"text": {"format": {"type": c("responses.format")}}}),
            ("responses.file-id", {"input": [_user({"type": "input_image", "file_id": c("f")})]}),
        ):
            self.post(label, {**self.hello(f"{label}.input", ok), **fields}, 400)
        bad_key = {"Authorization": f"Bearer {c('responses.key')}"}
        self.post("responses.bad key", self.hello("responses.m", ok), 401, headers=bad_key)
        raw = b'{"model": "gpt-4o-mini", "input": "' + c("responses.json").encode()
        self.expect(self.http.post(RESPONSES, content=raw, headers=self.headers()), 400, "json")


def _user(*content: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}
