"""The canary traffic: every way a request can go through the gateway, each carrying fresh
canaries in every place a caller can put text — messages (text and content parts), tool
definitions, tool-call arguments and tool results, `user`, `metadata`, headers, the query
string, the path, field values the gateway refuses — on both dialects, on Anthropic's
Messages surface (`messages_traffic`) and on the embeddings surface (`embeddings_traffic`).

Each case checks the status it expects, so a path that silently stopped being exercised
fails here rather than making the privacy search vacuous; the echo cases check that the
canary really reached the provider and came back to the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.privacy.embeddings_traffic import EmbeddingsTraffic
from tests.privacy.messages_traffic import MessagesTraffic
from tests.privacy.responses_traffic import ResponsesTraffic
from tests.privacy.stores import Canaries

CHAT = "/v1/chat/completions"
NATIVE = "/api/v1/chat"


@dataclass
class Target:
    url: str
    simulator_url: str
    key: str  # an account on the `usage` plan
    fallback_key: str  # the same account, allowed gpt-4o-mini and gpt-4.1-mini only
    trial_key: str  # an account on the `evaluation` plan (5 requests a minute)
    admin_key: str
    messages_key: str  # an `unlimited` account for the Messages traffic (`messages_traffic`)


class Traffic:
    def __init__(self, target: Target, canaries: Canaries) -> None:
        self.t = target
        self.c = canaries
        self.http = httpx.Client(base_url=target.url, timeout=20)

    # --- helpers ---------------------------------------------------------------------------
    def _headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.t.key}", **extra}

    def _expect(self, response: httpx.Response, status: int, label: str) -> httpx.Response:
        if response.status_code != status:
            response.read()
            raise AssertionError(f"{label}: expected {status}, got {response.status_code}")
        return response

    def post(self, label: str, path: str, body: Any, status: int, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", None) or self._headers()
        response = self.http.post(path, json=body, headers=headers, **kw)
        return self._expect(response, status, label)

    def stream(self, label: str, path: str, body: Any, *, leave_early: bool = False) -> str:
        """A streamed answer, read to the end (or left after its first event)."""
        with self.http.stream("POST", path, json=body, headers=self._headers()) as response:
            self._expect(response, 200, label)
            lines: list[str] = []
            for line in response.iter_lines():
                if line:
                    lines.append(line)
                if leave_early and line.startswith("data: "):
                    break  # the client goes away mid-stream
        return "\n".join(lines)

    def fault(self, **spec: Any) -> None:
        response = httpx.post(f"{self.t.simulator_url}/_simulator/faults", json=spec)
        assert response.status_code < 300, response.text

    def user(self, label: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": f"Please keep this safe: {self.c.new(label)}"}]

    # --- the cases -------------------------------------------------------------------------
    def run(self) -> None:
        for case in (
            self.success,
            self.streams,
            self.echoes,
            self.provider_failures,
            self.fallback,
            self.refusals,
            self.bodies,
            self.account_and_admin,
            self.dashboard,
        ):
            case()
        MessagesTraffic(self.t, self.c, self.http).run()
        ResponsesTraffic(self.t, self.c, self.http).run()
        EmbeddingsTraffic(self.t, self.c, self.http).run()

    def rich_body(self, label: str, model: str) -> dict[str, Any]:
        """An OpenAI request with a canary in every place a caller can put text."""
        c = self.c.new
        return {
            "model": model,
            "messages": [
                {"role": "system", "content": f"You are careful. {c(label + '/system')}"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": f"Look up {c(label + '/part')}"}],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": "lookup",
                                "arguments": json.dumps({"q": c(label + "/tool-args")}),
                            },
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": c(label + "/tool-result")},
                {"role": "user", "content": f"Thanks. {c(label + '/text')}"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "description": f"Finds {c(label + '/tool-description')}",
                        "parameters": {
                            "type": "object",
                            "properties": {"q": {"type": "string"}},
                            "required": ["q"],
                        },
                    },
                }
            ],
            "user": c(label + "/user"),
            "metadata": {"note": c(label + "/metadata")},
            "max_tokens": 60,
        }

    def success(self) -> None:
        label = "openai.success"
        body = self.rich_body(label, "gpt-4o-mini")
        headers = self._headers(**{"X-Canary": self.c.new(label + "/header")})
        headers["User-Agent"] = self.c.new(label + "/user-agent")
        headers["X-RoutePlex-Strategy"] = "cost"
        query = {"trace": self.c.new(label + "/query")}
        self.post(label, CHAT, body, 200, headers=headers, params=query)
        native = {"messages": self.user("native.success"), "model": "gpt-4o-mini"}
        self.post("native.success", NATIVE, {**native, "enhance_prompt": True}, 200)
        auto = {"model": "routeplex-ai", "messages": self.user("openai.auto")}
        self.post("openai.auto", CHAT, auto, 200)
        # The translated providers (Anthropic's and Gemini's wire formats), plain and streamed.
        for model in ("claude-3-5-haiku-20241022", "gemini-2.0-flash"):
            label = f"openai.{model}"
            self.post(label, CHAT, self.rich_body(label, model), 200)
            body = self.rich_body(label + ".stream", model) | {"stream": True}
            assert "[DONE]" in self.stream(label + ".stream", CHAT, body)

    def streams(self) -> None:
        body = self.rich_body("openai.stream", "gpt-4o-mini")
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        assert self.stream("openai.stream", CHAT, body).endswith("data: [DONE]")
        for mode in ("buffered", "realtime"):
            label = f"native.stream.{mode}"
            native = {"messages": self.user(label), "model": "gpt-4o-mini", "stream": True}
            assert "[DONE]" in self.stream(label, NATIVE, {**native, "stream_mode": mode})
        # The client leaves after the first event; the gateway closes the upstream.
        slow = {"model": "echo/slow", "stream": True, "messages": self.user("openai.disconnect")}
        self.stream("openai.disconnect", CHAT, slow, leave_early=True)
        native_slow = {"model": "echo/slow", "stream": True, "stream_mode": "realtime"}
        native_slow["messages"] = self.user("native.disconnect")
        self.stream("native.disconnect", NATIVE, native_slow, leave_early=True)

    def echoes(self) -> None:
        """The provider quotes the prompt back: in answers and in error texts."""
        label = "openai.echo"
        answer = self.post(label, CHAT, self.rich_body(label, "echo/echo"), 200)
        assert self.c.by_label[label + "/text"] in answer.text  # it went there and back
        native = {"model": "echo/echo", "stream": True, "stream_mode": "realtime"}
        native["messages"] = self.user("native.echo")
        streamed = self.stream("native.echo", NATIVE, native)
        assert self.c.by_label["native.echo"] in streamed
        for label, path in (("openai.upstream-400", CHAT), ("native.upstream-400", NATIVE)):
            body = {"model": "echo/bad-request", "messages": self.user(label)}
            refused = self.post(label, path, body, 400)  # the provider refused the request
            assert self.c.by_label[label] in refused.text  # relayed to the caller, and only there
        streamed_400 = {"model": "echo/bad-request", "stream": True}
        streamed_400["messages"] = self.user("openai.stream-upstream-400")
        self.post("openai.stream-upstream-400", CHAT, streamed_400, 400)
        body = {"model": "echo/server-error", "messages": self.user("openai.upstream-500")}
        self.post("openai.upstream-500", CHAT, body, 502)

    def provider_failures(self) -> None:
        self.fault(model="gpt-4o-mini", status=500, count=1)
        body = {"model": "gpt-4o-mini", "messages": self.user("openai.simulated-500")}
        self.post("openai.simulated-500", CHAT, body, 502)
        # A small output cap keeps the total timeout short (1 s + 1 s per 50 cap tokens).
        for label, path, cap in (
            ("openai.timeout", CHAT, "max_tokens"),
            ("native.timeout", NATIVE, "max_output_tokens"),
        ):
            hang = {"model": "echo/hang", "messages": self.user(label), cap: 25}
            self.post(label, path, hang, 504)
        # A broken chunk that quotes the prompt, after the stream has started.
        for label, path in (("openai.malformed", CHAT), ("native.malformed", NATIVE)):
            body = {"model": "echo/malformed", "stream": True, "messages": self.user(label)}
            assert "provider_error" in self.stream(label, path, body)
        self.fault(model="gpt-4o-mini", malformed_after_chunks=1, count=1)
        body = {"model": "gpt-4o-mini", "stream": True, "messages": self.user("openai.sim-bad")}
        self.stream("openai.sim-bad", CHAT, body)
        # A success after two failures in a row: a third (the fallback case below) would
        # open gpt-4o-mini's circuit, leaving auto-routing nothing to fall back from.
        body = {"model": "gpt-4o-mini", "messages": self.user("openai.after-faults")}
        self.post("openai.after-faults", CHAT, body, 200)

    def fallback(self) -> None:
        # The first model routeplex-ai picks fails; the next one answers.
        two_models = self._headers(self.t.fallback_key)
        self.fault(model="*", status=500, count=1)
        body = {"model": "routeplex-ai", "messages": self.user("openai.fallback")}
        answer = self.post("openai.fallback", CHAT, body, 200, headers=two_models).json()
        assert answer["x_routeplex"]["fallback_used"] is True, answer["x_routeplex"]
        self.fault(model="*", status=503, count=1)
        native = {"mode": "routeplex-ai", "messages": self.user("native.fallback")}
        answer = self.post("native.fallback", NATIVE, native, 200, headers=two_models).json()
        assert answer["data"]["fallback_used"] is True, answer["data"]

    def refusals(self) -> None:
        trial = self._headers(self.t.trial_key)
        for i in range(5):
            body = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": self.user(f"trial.{i}")}
            self.post(f"trial.{i}", CHAT, body, 200, headers=trial)
        for label, path in (("openai.rate-limited", CHAT), ("native.rate-limited", NATIVE)):
            body = {"model": "gpt-4o-mini", "messages": self.user(label)}
            self.post(label, path, body, 429, headers=trial)
        for label, key in (("invalid-key", None), ("invalid-key.rp", "rp_live_")):
            token = (key or "") + self.c.new(label + "/key")
            body = {"model": "gpt-4o-mini", "messages": self.user(label)}
            self.post(label, CHAT, body, 401, headers={"Authorization": f"Bearer {token}"})
        c = self.c.new
        for label, path, body in (
            ("openai.bad-model", CHAT, {"model": c("model"), "messages": self.user("m1")}),
            ("openai.bad-role", CHAT, {"model": "gpt-4o", "messages": [{"role": c("role")}]}),
            ("native.bad-mode", NATIVE, {"mode": c("mode"), "messages": self.user("m2")}),
            ("native.bad-strategy", NATIVE, {"strategy": c("st"), "messages": self.user("m3")}),
            ("native.bad-stream", NATIVE, {"stream_mode": c("sm"), "messages": self.user("m4")}),
        ):
            self.post(label, path, body, 400)
        headers = self._headers(**{"X-RoutePlex-Strategy": c("strategy-header")})
        body = {"model": "gpt-4o-mini", "messages": self.user("m5")}
        self.post("openai.bad-strategy-header", CHAT, body, 400, headers=headers)

    def bodies(self) -> None:
        big = self.c.new("oversize") * 2000
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]}
        for path in (CHAT, NATIVE):
            self.post(f"oversize {path}", path, body, 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
            yield json.dumps(body).encode()

        response = self.http.post(CHAT, content=chunks(), headers=self._headers())
        self._expect(response, 413, "oversize chunked")
        c = self.c.new("invalid-json")
        raw = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "' + c.encode()
        for path in (CHAT, NATIVE, "/api/v1/chat/estimate"):
            response = self.http.post(path, content=raw, headers=self._headers())
            self._expect(response, 400, f"invalid json {path}")
        text_headers = self._headers(**{"Content-Type": "text/plain"})
        response = self.http.post(CHAT, content=self.c.new("text-body"), headers=text_headers)
        self._expect(response, 415, "text body")
        estimate = {"messages": self.user("estimate")}
        self.post("estimate", "/api/v1/chat/estimate", estimate, 200, headers={})
        estimate = {"messages": self.user("estimate.m"), "model": self.c.new("estimate.model")}
        self.post("estimate.bad-model", "/api/v1/chat/estimate", estimate, 400, headers={})

    def account_and_admin(self) -> None:
        c = self.c.new
        me = self.http.get("/api/v1/account", headers=self._headers(**{"X-Canary": c("acct.h")}))
        account_id = self._expect(me, 200, "account").json()["data"]["account_id"]
        get = self.http.get
        mine = self._headers()
        self._expect(get("/api/v1/usage", params={"days": c("days")}, headers=mine), 400, "days")
        self._expect(get("/v1/models", params={"q": c("q")}, headers=mine), 200, "models")
        keys = "/api/v1/account/keys"
        for label, body in (
            ("key.expires", {"expires_in_days": c("key.expires")}),
            ("key.models", {"allowed_models": [c("key.models")]}),
            ("key.limits-field", {"limits": {c("key.limits-field"): 1}}),
            ("key.limits-value", {"limits": {"cost_per_day_usd": c("key.limits-value")}}),
            ("key.unknown-field", {"name": "ci", "note": c("key.unknown-field")}),
        ):
            self.post(label, keys, body, 400 if label != "key.unknown-field" else 201)
        delete = self.http.delete(f"{keys}/{c('key.path')}", headers=self._headers())
        self._expect(delete, 404, "delete key")
        admin = self._headers(self.t.admin_key)
        self._expect(get(f"/admin/accounts/{c('admin.path')}", headers=admin), 404, "admin get")
        for label, body in (
            ("admin.plan", {"plan": c("admin.plan")}),
            ("admin.limits", {"limits": {"rpm": c("admin.limits")}}),
        ):
            response = self.http.patch(f"/admin/accounts/{account_id}", json=body, headers=admin)
            self._expect(response, 400, label)
        new = {"name": "never-created", "plan": c("admin.new-plan")}
        self.post("admin.create", "/admin/accounts", new, 400, headers=admin)
        usage = get("/admin/usage", params={"account_id": c("admin.q")}, headers=admin)
        self._expect(usage, 200, "admin usage")
        bad_admin = {"Authorization": f"Bearer {c('admin.key')}"}
        self._expect(get("/admin/accounts", headers=bad_admin), 401, "bad admin key")
        self._expect(get(f"/v1/{c('path')}", headers=self._headers()), 404, "unknown path")
        self._expect(get(NATIVE, headers=self._headers(**{"X-Canary": c("405")})), 405, "405")

    def dashboard(self) -> None:
        """The dashboard's sign-in (a canary as the key), then its pages with canaries in
        the query and in the key form."""
        c = self.c.new
        with httpx.Client(base_url=self.t.url, timeout=20) as browser:
            origin = {"Origin": self.t.url}

            def sign_in(key: str, status: int, label: str) -> None:
                form = browser.get("/app/signin")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert csrf is not None, label
                body = {"csrf": csrf.group(1), "key": key}
                self._expect(browser.post("/app/signin", data=body, headers=origin), status, label)

            sign_in(c("dashboard.key"), 401, "dashboard bad key")
            sign_in(self.t.key, 303, "dashboard sign-in")
            for path in ("/app/", "/app/usage", "/app/usage.csv", "/app/keys", "/app/privacy"):
                page = browser.get(path, params={"days": c(f"dashboard{path}")})
                self._expect(page, 200, path)
            keys = browser.get("/app/keys")
            csrf = re.search(r'name="csrf" value="([^"]+)"', keys.text)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "name": "ci", "expires_in_days": c("dashboard.form")}
            refused = browser.post("/app/keys", data=form, headers=origin)
            self._expect(refused, 400, "dashboard key form")  # the API's validation refused it
