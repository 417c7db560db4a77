"""The gateway's own shape of a chat: the request every surface decodes into, the answer and
stream every provider produces, and where a model is served. Typed all the way down; a wire
format's dicts stop at its codec or its provider module."""

from .content import (
    Audio,
    CacheMark,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Part,
    Refusal,
    ResultPart,
    Role,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from .embedding import EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EncodingFormat, Vector
from .provider import Deployment, Embedder, Provider
from .request import (
    ChatRequest,
    ChoiceMode,
    Effort,
    NativeRequest,
    Reasoning,
    ResponseFormat,
    Sampling,
    Tool,
    ToolChoice,
)
from .response import (
    AnswerPart,
    ChatResponse,
    ChatStream,
    Chunk,
    Delta,
    Finish,
    FinishReason,
    RefusalDelta,
    TextDelta,
    ThinkingDelta,
    TokenLogprob,
    ToolArgumentsDelta,
    ToolCallStart,
    Usage,
)

__all__ = [
    "AnswerPart", "Audio", "CacheMark", "ChatRequest", "ChatResponse", "ChatStream",
    "ChoiceMode", "Chunk", "Delta", "Deployment", "Document", "Effort", "Embedder",
    "EmbeddingInput", "EmbeddingRequest", "EmbeddingResponse", "EncodingFormat", "Finish",
    "FinishReason", "Image", "Media", "Message", "NativeRequest", "Opaque", "Part", "Provider",
    "Reasoning", "Refusal", "RefusalDelta", "ResponseFormat", "ResultPart", "Role", "Sampling",
    "Text", "TextDelta", "Thinking", "ThinkingDelta", "TokenLogprob", "Tool",
    "ToolArgumentsDelta", "ToolCall", "ToolCallStart", "ToolChoice", "ToolResult", "Usage",
    "Vector",
]  # fmt: skip
