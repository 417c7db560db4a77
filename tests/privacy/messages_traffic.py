"""The canary traffic of Anthropic's Messages surface: every place a Messages caller can put
text — `system`, text blocks, documents and search results, thinking blocks, tool definitions
(name, description, schema), `tool_use` input, `tool_result` content, `metadata.user_id`,
`stop_sequences`, headers (`anthropic-beta` travels upstream), the query string — on a Claude
model (the caller's body forwarded as it is, the upstream's events relayed as they came) and a
GPT model (translated), plain and streamed; `count_tokens` bodies; the models listing's query
and path; provider answers, errors and broken streams that quote the prompt back (an
OpenAI-shaped and an Anthropic echo upstream); provider faults; a client leaving mid-stream;
and refusals of bad fields holding canaries.

As in `traffic.py`, each case checks its status, and the echo cases that the canary really
went to the provider and came back to the caller (and only there).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.privacy.surface_traffic import SurfaceTraffic

MESSAGES, COUNT = "/v1/messages", "/v1/messages/count_tokens"
MODELS = ("claude-haiku-4-5", "gpt-4o-mini")  # passed through, translated
ECHO = ("claude-echo/", "echo/")  # an Anthropic upstream, an OpenAI one
PNG = "iVBORw0KGgo="


class MessagesTraffic(SurfaceTraffic):
    path = MESSAGES
    first_delta = "event: content_block_delta"

    # --- helpers ---------------------------------------------------------------------------
    def headers(self, label: str | None = None, key: str | None = None) -> dict[str, str]:
        sent = {"x-api-key": key or self.t.messages_key, "anthropic-version": "2023-06-01"}
        if label is not None:  # canaries in every header a caller may set
            sent["x-canary"] = self.c.new(f"{label}/header")
            sent["user-agent"] = self.c.new(f"{label}/user-agent")
            sent["anthropic-beta"] = self.c.new(f"{label}/beta")
        return sent

    def post(self, label: str, path: str, body: Any, status: int, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", None) or self.headers()
        return self.expect(self.http.post(path, json=body, headers=headers, **kw), status, label)

    def hello(self, label: str, model: str, **fields: Any) -> dict[str, Any]:
        text = f"Please keep this safe: {self.c.new(label)}"
        return {"model": model, "max_tokens": 40, "messages": [_user(text)], **fields}

    def rich(self, label: str, model: str) -> dict[str, Any]:
        """A Messages request with a canary in every place a caller can put text."""

        def c(part: str) -> str:
            return self.c.new(f"{label}/{part}")

        tool = c("tool-name")  # [A-Za-z0-9_-]: a valid tool name
        result = {
            "type": "tool_result",
            "tool_use_id": "toolu_01",
            "content": [{"type": "text", "text": c("tool-result")}],
        }
        search = {
            "type": "search_result",
            "title": c("search-title"),
            "source": f"https://example.com/{c('search-source')}",
            "content": [{"type": "text", "text": c("search-text")}],
        }
        return {
            "model": model,
            "max_tokens": 60,
            "system": [{"type": "text", "text": f"You are careful. {c('system')}"}],
            "messages": [
                _user(
                    {"type": "text", "text": f"Look up {c('text')}"},
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": c("doc")},
                        "title": c("doc-title"),
                    },
                    search,
                ),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": c("thinking"), "signature": c("sig")},
                        {"type": "text", "text": c("assistant-text")},
                        {
                            "type": "tool_use",
                            "id": "toolu_01",
                            "name": tool,
                            "input": {"q": c("input")},
                        },
                    ],
                },
                _user(result, {"type": "text", "text": f"Thanks. {c('last')}"}),
            ],
            "tools": [
                {
                    "name": tool,
                    "description": f"Finds {c('tool-description')}",
                    "input_schema": {
                        "type": "object",
                        "properties": {"q": {"type": "string", "description": c("schema")}},
                        "required": ["q"],
                    },
                }
            ],
            "tool_choice": {"type": "auto"},
            "metadata": {"user_id": c("user-id")},
            "stop_sequences": [c("stop")],
        }

    # --- the cases -------------------------------------------------------------------------
    def run(self) -> None:
        for case in (
            self.served,
            self.counted,
            self.listed,
            self.echoed,
            self.failed,
            self.refused,
        ):
            case()

    def served(self) -> None:
        for model in MODELS:
            label = f"messages.{model}"
            query = {"trace": self.c.new(f"{label}/query")}
            answer = self.post(
                label,
                MESSAGES,
                self.rich(label, model),
                200,
                headers=self.headers(label),
                params=query,
            )
            assert answer.json()["type"] == "message"
            label += ".stream"
            streamed = self.stream(label, self.rich(label, model), headers=self.headers(label))
            assert streamed.split("\n")[-2] == "event: message_stop", streamed[-300:]

    def counted(self) -> None:
        for model in (*MODELS, "routeplex-ai"):
            label = f"messages.count.{model}"
            body = self.rich(label, model)
            del body["max_tokens"]
            counted = self.post(label, COUNT, body, 200, headers=self.headers(label))
            assert counted.json()["input_tokens"] > 0

    def listed(self) -> None:
        c = self.c.new
        for name, status in (("limit", 400), ("after_id", 400), ("before_id", 400), ("q", 200)):
            params = {name: c(f"messages.models.{name}")}
            listing = self.http.get("/v1/models", params=params, headers=self.headers())
            self.expect(listing, status, f"models {name}")
        one = self.http.get(f"/v1/models/{c('messages.models.path')}", headers=self.headers())
        self.expect(one, 404, "model path")

    def echoed(self) -> None:
        """Upstreams that quote the prompt back: in answers, error texts and broken streams."""
        for prefix in ECHO:
            label = f"messages.{prefix}echo"
            answer = self.post(label, MESSAGES, self.hello(label, f"{prefix}echo"), 200)
            assert self.c.by_label[label] in answer.text  # it went there and back
            label += ".stream"
            streamed = self.stream(label, self.hello(label, f"{prefix}echo"))
            assert self.c.by_label[label] in streamed
            label = f"messages.{prefix}bad-request"
            refused = self.post(label, MESSAGES, self.hello(label, f"{prefix}bad-request"), 400)
            assert self.c.by_label[label] in refused.text  # relayed to the caller, and only there
            label = f"messages.{prefix}server-error"
            self.post(label, MESSAGES, self.hello(label, f"{prefix}server-error"), 502)
            label = f"messages.{prefix}malformed"
            broken = self.stream(label, self.hello(label, f"{prefix}malformed"))
            assert broken.split("\n")[-2] == "event: error", broken[-300:]
            label = f"messages.{prefix}hang"
            self.post(label, MESSAGES, self.hello(label, f"{prefix}hang", max_tokens=25), 504)
            label = f"messages.{prefix}disconnect"
            self.stream(label, self.hello(label, f"{prefix}slow"), leave_early=True)

    def failed(self) -> None:
        """Simulated provider faults, then a success (a third failure in a row would open
        the model's circuit for the traffic after this)."""
        for model, after in (("claude-haiku-4-5", 5), ("gpt-4o-mini", 3)):
            self.fault(model=model, status=500, count=1)
            label = f"messages.{model}.simulated-500"
            self.post(label, MESSAGES, self.hello(label, model), 502)
            self.fault(model=model, cut_after_chunks=after, count=1)
            label = f"messages.{model}.cut"
            broken = self.stream(label, self.hello(label, model, max_tokens=200))
            assert broken.split("\n")[-2] == "event: error", broken[-300:]
            label = f"messages.{model}.after-faults"
            self.post(label, MESSAGES, self.hello(label, model), 200)

    def refused(self) -> None:
        c = self.c.new
        ok = "gpt-4o-mini"
        for label, body in (
            ("messages.bad-model", self.hello("messages.bad-model.m", c("messages.model"))),
            (
                "messages.bad-role",
                {**self.hello("messages.m6", ok), "messages": [{"role": c("messages.role")}]},
            ),
            (
                "messages.bad-block",
                self.hello("messages.m7", ok, messages=[_user({"type": c("messages.b")})]),
            ),
            (
                "messages.bad-image",
                self.hello("messages.m8", ok, messages=[_user(_image(PNG + c("messages.i")))]),
            ),
            ("messages.bad-max-tokens", self.hello("messages.m9", ok, max_tokens=c("messages.mt"))),
            (
                "messages.bad-thinking",
                self.hello(
                    "messages.m10",
                    ok,
                    thinking={"type": "enabled", "budget_tokens": c("messages.th")},
                ),
            ),
        ):
            for path in (MESSAGES, COUNT):
                self.post(f"{label} {path}", path, body, 400)
        strategy = {**self.headers(), "x-routeplex-strategy": c("messages.strategy")}
        self.post(
            "messages.bad-strategy", MESSAGES, self.hello("messages.m11", ok), 400, headers=strategy
        )
        for path in (MESSAGES, COUNT):
            bad_key = {"x-api-key": c(f"messages.key {path}"), "anthropic-version": "2023-06-01"}
            self.post(
                f"bad key {path}",
                path,
                self.hello(f"messages.m12 {path}", ok),
                401,
                headers=bad_key,
            )
            big = self.hello(f"messages.oversize {path}", ok)
            big["messages"][0]["content"] *= 2000
            self.post(f"oversize {path}", path, big, 413)
            raw = (
                b'{"model": "gpt-4o-mini", "messages": [{"content": "'
                + c(f"messages.json {path}").encode()
            )
            self.expect(self.http.post(path, content=raw, headers=self.headers()), 400, path)
            text = {**self.headers(), "content-type": "text/plain"}
            response = self.http.post(path, content=c(f"messages.text {path}"), headers=text)
            self.expect(response, 415, f"text body {path}")


def _user(*content: Any) -> dict[str, Any]:
    if len(content) == 1 and isinstance(content[0], str):
        return {"role": "user", "content": content[0]}
    return {"role": "user", "content": list(content)}


def _image(data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
