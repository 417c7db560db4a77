"""The local prompt classifier for `routeplex-ai`: what kind of request this is, how hard,
how big, and what it needs — without calling a model, in well under a millisecond.

It reads only a bounded window of the prompt (the start and end of the last user turn and
of the system message, where intent is stated), so its cost does not grow with the context.
The result holds labels and numbers only; no text of the prompt survives it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..canonical import ChatRequest, Image, Message, Text
from ..metering.tokens import approximate_tokens

if TYPE_CHECKING:
    from .catalog import CatalogModel

# Where a request's intent shows: its opening and its closing words.
_HEAD_CHARS = 1200
_TAIL_CHARS = 400

CATEGORIES = (
    "code",
    "debugging",
    "math",
    "analysis",
    "creative_writing",
    "extraction",
    "summarization",
    "translation",
    "conversation",
    "question_answering",
    "reasoning",
    "data_formatting",
    "planning",
    "classification",
)

# Cue words per category. Matched as whole words (prefix match for stems ending in "*").


_HARD_CUES = re.compile(
    r"\b(step by step|prove|optimi[sz]e|architecture|trade-?offs?|complex|rigorous|"
    r"edge cases?|in depth|detailed|comprehensive|multi-?step)\b"
)


def _load_cues() -> dict[str, list[str]]:
    text = resources.files(__package__).joinpath("cues.toml").read_text()
    cues: dict[str, list[str]] = tomllib.loads(text)["cues"]
    return cues


class _Cues:
    """Cue lookups by exact phrase and by stem prefix. Per-word dictionary lookups keep
    classification linear and fast (a regex alternation of every cue is not)."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.prefixes: dict[str, str] = {}
        for category, cues in _load_cues().items():
            for cue in cues:
                table = self.prefixes if cue.endswith("*") else self.exact
                table.setdefault(cue.rstrip("*"), category)
        # The longest phrase that starts with each word, so most words need one lookup.
        self.phrase_len: dict[str, int] = {}
        for phrase in self.exact:
            first, size = phrase.split()[0], len(phrase.split())
            self.phrase_len[first] = max(self.phrase_len.get(first, 1), size)
        self.prefix_lengths = tuple(sorted({len(p) for p in self.prefixes}))
        self.prefix_heads = {p[:3] for p in self.prefixes}

    def counts(self, text: str) -> dict[str, int]:
        words = _WORD.findall(text)
        exact, prefixes, heads = self.exact.get, self.prefixes.get, self.prefix_heads
        phrase_len, lengths = self.phrase_len.get, self.prefix_lengths
        counts: dict[str, int] = {}
        last = len(words)
        for i, word in enumerate(words):
            category = None
            longest = phrase_len(word, 0)
            if longest:  # most words start no cue phrase: skip the phrase loop entirely
                for size in range(min(longest, last - i), 0, -1):
                    category = exact(" ".join(words[i : i + size]) if size > 1 else word)
                    if category is not None:
                        break
            if category is None and word[:3] in heads:
                for length in lengths:
                    if length > len(word):
                        break
                    category = prefixes(word[:length])
                    if category is not None:
                        break
            if category is not None:
                counts[category] = counts.get(category, 0) + 1
        return counts


@cache
def _cue_tables() -> _Cues:
    return _Cues()  # built on first use, not at import


_WORD = re.compile(r"[a-z0-9';]+")
_CODE_BLOCK = re.compile(r"```|\bdef \w+\(|\bfunction \w+\(|[{};][ \t]*\n")


@dataclass(frozen=True, slots=True)
class Needs:
    """What the request requires of a model, read from its shape (never its text)."""

    tools: bool = False
    vision: bool = False
    json_schema: bool = False

    @classmethod
    def of(cls, request: ChatRequest) -> Needs:
        vision = any(
            isinstance(part, Image) for message in request.messages for part in message.parts
        )
        response_format = request.response_format
        return cls(
            tools=bool(request.tools),
            vision=vision,
            json_schema=response_format is not None and response_format.schema is not None,
        )

    def met_by(self, model: CatalogModel) -> bool:
        caps = model.capabilities
        return (
            (not self.tools or caps.tools)
            and (not self.vision or caps.vision)
            and (not self.json_schema or caps.json_schema)
        )


@dataclass(frozen=True, slots=True)
class Classification:
    """What the router needs to know about a prompt: labels and numbers only."""

    category: str
    complexity: str  # "low" | "medium" | "high"
    context_tokens: int
    needs: Needs
    scores: tuple[tuple[str, int], ...] = ()

    def explain(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "complexity": self.complexity,
            "context_tokens": self.context_tokens,
            "needs": {
                "tools": self.needs.tools,
                "vision": self.needs.vision,
                "json_schema": self.needs.json_schema,
            },
            "signals": dict(self.scores),
        }


def _text(message: Message | None) -> str:
    if message is None:
        return ""
    return " ".join(part.text for part in message.parts if isinstance(part, Text))


def _window(text: str) -> str:
    if len(text) <= _HEAD_CHARS + _TAIL_CHARS:
        return text
    return text[:_HEAD_CHARS] + "\n" + text[-_TAIL_CHARS:]


def classify(request: ChatRequest) -> Classification:
    messages = request.messages
    last_user = next((m for m in reversed(messages) if m.role == "user"), None)
    system = next((m for m in messages if m.role == "system"), None)
    user_text = _window(_text(last_user))
    text = (user_text + "\n" + _window(_text(system))).lower()

    counts = _cue_tables().counts(text)
    if _CODE_BLOCK.search(user_text):
        counts["code"] = counts.get("code", 0) + 2
        if "debugging" in counts:
            counts["debugging"] += 1
    needs = Needs.of(request)
    if needs.json_schema:
        counts["data_formatting"] = counts.get("data_formatting", 0) + 2

    if counts:
        # Ties go to the more specific category (the order of CATEGORIES), deterministically.
        category = max(counts, key=lambda c: (counts[c], -CATEGORIES.index(c)))
    else:
        category = "conversation" if len(user_text) < 200 else "question_answering"

    context_tokens = approximate_tokens(messages)
    hard = len(_HARD_CUES.findall(text))
    if context_tokens > 6000 or hard >= 2 or (hard and len(user_text) > 800):
        complexity = "high"
    elif (
        context_tokens > 1200
        or hard
        or category in ("code", "debugging", "math", "reasoning", "analysis")
    ):
        complexity = "medium"
    else:
        complexity = "low"
    return Classification(
        category=category,
        complexity=complexity,
        context_tokens=context_tokens,
        needs=needs,
        scores=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
