"""The protocol-neutral services every API dialect and library user shares: chat
(templates, tools, structured output, ``n`` choices) and text completion."""

from .chat import ChatService
from .completions import CompletionService
from .events import (
    ChatChoice,
    ChatEvent,
    ChatResult,
    ChoiceEnd,
    ChoiceStart,
    ReasoningDelta,
    StreamEnd,
    TextChoice,
    TextDelta,
    TextResult,
    ToolCall,
    ToolCallArguments,
    ToolCallStart,
)
from .requests import ChatRequest, NamedTool, Sampling, TextRequest, ToolChoice, ToolSpec
from .schemas import ANY_OBJECT, checked_schema

__all__ = ["ANY_OBJECT", "ChatChoice", "ChatEvent", "ChatRequest", "ChatResult", "ChatService",
           "ChoiceEnd", "ChoiceStart", "CompletionService", "NamedTool", "ReasoningDelta",
           "Sampling",
           "StreamEnd", "TextChoice", "TextDelta", "TextRequest", "TextResult", "ToolCall",
           "ToolCallArguments", "ToolCallStart", "ToolChoice", "ToolSpec", "checked_schema"]
