"""The HTTP API's routes as `/openapi.json` describes them: path and method, summary, tag,
who may call (`auth`), parameters, the body each takes and answers, and the statuses it
answers with. `openapi.py` builds the document from this table; a route added to the app is
added here too (a test compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .schemas import account as acc
from .schemas import anthropic_answers as ant
from .schemas import anthropic_messages as amsg
from .schemas import embeddings as emb
from .schemas import native as nat
from .schemas import openai_chat as oai
from .schemas import openai_responses as ores
from .schemas import operations as ops

Auth = Literal["key", "x-api-key", "admin", "none", "optional-key", "probe"]
# The error envelope each dialect answers in; `Either` is `/v1/models`'s, OpenAI's unless the
# caller sends `anthropic-version`.
Dialect = Literal["OpenAI", "Anthropic", "Either", "Native"]
_CHAT_ERRORS = (400, 401, 403, 413, 415, 429, 502, 503, 504)
_DAYS = {
    "name": "days",
    "in": "query",
    "required": False,
    "description": "How many days back, today included (default 7).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 2562},
}


def _path_id(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": what,
        "schema": {"type": "string"},
    }


_ACCOUNT_QUERY = {
    "name": "account_id",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
}
_KEY_ID = _path_id("key_id", "The key's id (`key_…`).")
_ACCOUNT_ID = _path_id("account_id", "The account's id (`acc_…`).")
_DATA_POLICY_WORDS = "comma-separated `zero-retention`, `no-training`, `region=CODE`"
_DATA_POLICY_HEADER = {
    "name": "X-RoutePlex-Data-Policy",
    "in": "header",
    "required": False,
    "description": f"What may happen to the prompt downstream ({_DATA_POLICY_WORDS}); narrows "
    "the key's and account's requirement, never loosens it.",
    "schema": {"type": "string", "maxLength": 1024},
}
_ANTHROPIC_VERSION = {
    "name": "anthropic-version",
    "in": "header",
    "required": False,
    "description": "Anthropic's API version, as every Anthropic client sends it (`2023-06-01`).",
    "schema": {"type": "string"},
}
_ANTHROPIC_HEADERS = (
    _ANTHROPIC_VERSION,
    {
        "name": "anthropic-beta",
        "in": "header",
        "required": False,
        "description": "Anthropic beta features, comma-separated: passed on to an Anthropic "
        "upstream (the only caller header that is).",
        "schema": {"type": "string"},
    },
)
_WITH_VERSION = "with `anthropic-version`"
_MODEL_PAGE = (
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Models per page ({_WITH_VERSION}; default 20).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    *(
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"The page {where} this model's id ({_WITH_VERSION}).",
            "schema": {"type": "string"},
        }
        for name, where in (("after_id", "after"), ("before_id", "before"))
    ),
)
_MODEL_ID = _path_id("model_id", "A catalog id or alias, or `routeplex-ai`.")
# The model listings: only models with a deployment meeting the policy (and the header's, the
# key's and the account's) are listed.
_LISTING_POLICY = (
    {
        "name": "data_policy",
        "in": "query",
        "required": False,
        "description": f"List only the models that can serve a request requiring this "
        f"({_DATA_POLICY_WORDS}; repeated, one list, as the header's lines are).",
        "schema": {"type": "string", "maxLength": 1024},
    },
    _DATA_POLICY_HEADER,
)
_RESPONSE_ID = _path_id("response_id", "A response's id (nothing is stored: never found).")
_ROUTEPLEX_HEADERS = [
    {
        "name": "X-RoutePlex-Strategy",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": list(nat.STRATEGIES)},
    },
    {
        "name": "X-RoutePlex-Test-Mode",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    _DATA_POLICY_HEADER,
]


@dataclass(frozen=True, slots=True)
class Operation:
    """One route as described: `answer` is the type of its success body, `body` of its request
    body; a native route's answer is sent in the `{"success": true, "data": …}` envelope."""

    method: str
    path: str
    summary: str
    tag: str
    auth: Auth
    answer: Any
    errors: tuple[int, ...] = ()
    body: Any = None
    status: int = 200
    streams: bool = False
    params: tuple[dict[str, Any], ...] = ()
    description: str | None = None
    same_answer: tuple[int, ...] = ()  # other statuses answered with the same body

    @property
    def dialect(self) -> Dialect:
        if self.path.startswith("/v1/messages"):
            return "Anthropic"
        if self.path.startswith("/v1/models"):
            return "Either"
        return "OpenAI" if self.path.startswith("/v1/") else "Native"


OPERATIONS = (
    Operation("post", "/v1/chat/completions", "OpenAI Chat Completions, streaming (SSE) or not.",
              "OpenAI dialect", "key", oai.ChatCompletion, _CHAT_ERRORS,
              oai.ChatCompletionRequest, streams=True, params=tuple(_ROUTEPLEX_HEADERS)),
    Operation("post", "/v1/responses",
              "OpenAI Responses, stateless, streaming (SSE semantic events) or not, with any "
              "catalog model behind it.",
              "OpenAI dialect", "key", ores.ResponseObject, _CHAT_ERRORS,
              ores.ResponsesRequest, streams=True, params=tuple(_ROUTEPLEX_HEADERS),
              description="Nothing is stored: `store` is answered false, and "
              "`previous_response_id`, `conversation` and `background` are refused — send "
              "the whole input each time. Built-in tools are refused; function tools work "
              "with every provider."),
    *(
        Operation(method, path, "Stored responses: there are none (404 always).",
                  "OpenAI dialect", "key", ores.ResponseObject, (401, 404, 429),
                  params=(_RESPONSE_ID,))
        for method, path in (
            ("get", "/v1/responses/{response_id}"),
            ("delete", "/v1/responses/{response_id}"),
            ("get", "/v1/responses/{response_id}/input_items"),
            ("post", "/v1/responses/{response_id}/cancel"),
        )
    ),
    Operation("post", "/v1/embeddings",
              "OpenAI Embeddings, for OpenAI, Gemini and OpenAI-compatible embedding models; "
              "vectors as floats or base64.",
              "OpenAI dialect", "key", emb.EmbeddingList, _CHAT_ERRORS,
              emb.CreateEmbeddingRequest, params=(_ROUTEPLEX_HEADERS[1], _DATA_POLICY_HEADER),
              description="Embedding models are named, never chosen by routeplex-ai; a chat "
              "model is refused. Inputs and vectors are never stored."),
    Operation("get", "/v1/models", "The models this gateway serves, plus routeplex-ai.",
              "OpenAI dialect", "x-api-key", oai.OpenAIModelList | ant.AnthropicModelList,
              (400, 401, 429), params=(_ANTHROPIC_VERSION, *_MODEL_PAGE, *_LISTING_POLICY),
              description=f"OpenAI's list; Anthropic's, paged, {_WITH_VERSION} (which is also "
              "what lets a key come in `x-api-key`). Only models a deployment meeting the "
              "data policy serves (`data_policy`, the header, the key's and account's)."),
    Operation("get", "/v1/models/{model_id}", "One model this gateway serves.",
              "OpenAI dialect", "x-api-key", oai.OpenAIModel | ant.AnthropicModel, (401, 404, 429),
              params=(_MODEL_ID, _ANTHROPIC_VERSION),
              description=f"OpenAI's model object; Anthropic's {_WITH_VERSION}."),
    Operation("post", "/v1/messages",
              "Anthropic Messages, streaming (SSE) or not: to an Anthropic model the body goes "
              "as sent; to any other, translated.",
              "Anthropic dialect", "x-api-key", ant.AnthropicMessage, _CHAT_ERRORS,
              amsg.MessagesRequest, streams=True, params=(*_ANTHROPIC_HEADERS, _DATA_POLICY_HEADER),
              description="A request only an Anthropic model can serve (server tools, Files API "
              "sources, fields the gateway does not know…) is routed to Anthropic models only."),
    Operation("post", "/v1/messages/count_tokens",
              "The prompt's input tokens, free: Anthropic's count for an Anthropic model, the "
              "gateway's admission estimate (an upper bound) otherwise.",
              "Anthropic dialect", "x-api-key", ant.TokenCount,
              (400, 401, 403, 404, 413, 415, 429, 502, 503, 504), amsg.Conversation,
              params=(*_ANTHROPIC_HEADERS, _DATA_POLICY_HEADER)),
    Operation("post", "/api/v1/chat",
              "Native chat, plain or SSE (`start`, `delta`, `done`, `error` events).",
              "Native dialect", "key", nat.NativeChat, _CHAT_ERRORS, nat.NativeChatRequest,
              streams=True, params=(_DATA_POLICY_HEADER,)),
    Operation("post", "/api/v1/chat/estimate",
              "Estimated tokens and cost (no auth): for a named model, the model routeplex-ai "
              "would choose, or the cheapest available.",
              "Native dialect", "none", nat.Estimate, (400, 413, 415, 503), nat.EstimateRequest),
    Operation("get", "/api/v1/models",
              "The catalog with pricing, capabilities, health and each deployment's data "
              "policy (no auth).",
              "Native dialect", "optional-key", list[nat.CatalogModel], (400, 401, 429),
              params=_LISTING_POLICY,
              description="With `data_policy` (or the header, or a key whose account or own "
              "settings require one), only the models a deployment meeting it serves. A key "
              "is not needed; one that is sent is checked."),
    Operation("get", "/api/v1/usage", "The account's usage per day and model, and totals.",
              "Account", "key", acc.UsagePage, (400, 401, 429), params=(_DAYS,)),
    Operation("get", "/api/v1/account", "Plan, limits, and today's use against them.",
              "Account", "key", acc.AccountOverview, (401, 429)),
    Operation("get", "/api/v1/account/keys", "The account's keys (never the keys themselves).",
              "Account", "key", list[acc.Key], (401, 429)),
    Operation("post", "/api/v1/account/keys",
              "Create a key; the response is the only time it is shown.",
              "Account", "key", acc.NewKey, (400, 401, 413, 415, 429), acc.KeyRequest, 201),
    Operation("delete", "/api/v1/account/keys/{key_id}", "Revoke one of the account's keys.",
              "Account", "key", acc.Revoked, (401, 404, 429), params=(_KEY_ID,)),
    Operation("get", "/admin/accounts", "Every account.", "Admin", "admin",
              list[acc.Account], (401, 429)),
    Operation("post", "/admin/accounts", "Create an account.", "Admin", "admin", acc.Account,
              (400, 401, 413, 415, 429), acc.AccountCreate, 201),
    Operation("get", "/admin/accounts/{account_id}", "One account.", "Admin", "admin",
              acc.Account, (401, 404, 429), params=(_ACCOUNT_ID,)),
    Operation("patch", "/admin/accounts/{account_id}",
              "Change an account's plan, e-mail, limit overrides, data-policy requirement or "
              "disabled flag.", "Admin", "admin", acc.Account, (400, 401, 404, 413, 415, 429),
              acc.AccountUpdate, params=(_ACCOUNT_ID,)),
    Operation("delete", "/admin/accounts/{account_id}", "Delete an account and revoke its keys.",
              "Admin", "admin", acc.Deleted, (401, 404, 429), params=(_ACCOUNT_ID,)),
    Operation("get", "/admin/accounts/{account_id}/keys", "An account's keys.", "Admin",
              "admin", list[acc.Key], (401, 404, 429), params=(_ACCOUNT_ID,)),
    Operation("post", "/admin/accounts/{account_id}/keys",
              "Create a key for an account; shown once.", "Admin", "admin", acc.NewKey,
              (400, 401, 404, 413, 415, 429), acc.KeyRequest, 201, params=(_ACCOUNT_ID,)),
    Operation("delete", "/admin/keys/{key_id}", "Revoke any key.", "Admin", "admin",
              acc.Revoked, (401, 404, 429), params=(_KEY_ID,)),
    Operation("get", "/admin/plans", "The plans and their limits.", "Admin", "admin",
              dict[str, acc.LimitsView], (401, 429)),
    Operation("get", "/admin/usage", "Usage per day, account and model.", "Admin", "admin",
              list[acc.UsageRow], (400, 401, 429), params=(_DAYS, _ACCOUNT_QUERY)),
    Operation("get", "/admin/usage/surfaces",
              "Usage per surface (the API requests came in by), of all accounts or one; from "
              "request metadata, so only as far back as it is kept.", "Admin", "admin",
              list[acc.SurfaceUsage], (400, 401, 429), params=(_DAYS, _ACCOUNT_QUERY)),
    Operation("get", "/admin/health",
              "Every deployment of every catalog model and whether it can be served.",
              "Admin", "admin", list[acc.DeploymentHealth], (401, 429)),
    Operation("get", "/", "What answers here: the service's name and where its description and "
              "dashboard are (clients probe the root as they start).", "Operations", "none",
              ops.Root),
    Operation("get", "/health", "Liveness: 200 for as long as the process serves HTTP.",
              "Operations", "none", ops.Liveness),
    Operation("get", "/ready",
              "Readiness: whether this process should be sent traffic; why, for an admin key.",
              "Operations", "probe", ops.Readiness, (401, 429),
              description="Not ready while the database or (when configured) Redis does not "
              "answer, a background loop is failing, the metadata buffer is full, or the "
              "process is shutting down. Without a key: the status only. With an admin key: "
              "the reasons, failing loops, pid, whether answers are simulated, and the "
              "metadata buffer.", same_answer=(503,)),
    Operation("get", "/metrics", "Prometheus metrics.", "Operations", "none", str),
    Operation("get", "/openapi.json", "This description.", "Operations", "none",
              dict[str, Any]),
)  # fmt: skip
