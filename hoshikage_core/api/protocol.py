"""OpenAI wire format: request bodies, validated; responses built as dicts.

Request models accept unknown fields (OpenAI clients send many); the routers
log them at debug level and ignore them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..config.durations import parse_duration
from ..errors import InvalidRequestError
from ..types import ChatMessage

__all__ = [
    "ChatCompletionRequest",
    "ChatMessageIn",
    "CompletionRequest",
    "SamplingFields",
    "StreamOptions",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Open):
    type: str
    text: str | None = None


class ChatMessageIn(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def to_internal(self, index: int) -> ChatMessage:
        """Flatten text parts; refuse parts the model cannot take."""
        content = self.content
        if isinstance(content, list):
            texts = []
            for j, part in enumerate(content):
                if part.type != "text" or part.text is None:
                    raise InvalidRequestError(
                        f"messages[{index}].content[{j}] is of type '{part.type}'; "
                        "this model only takes text parts",
                        param=f"messages[{index}].content[{j}].type",
                    )
                texts.append(part.text)
            content = "".join(texts)
        return ChatMessage(role=self.role, content=content or "", name=self.name)


class StreamOptions(_Open):
    include_usage: bool = False


StopField = Annotated[
    str | list[str] | None,
    Field(description="Up to 4 sequences where generation stops; not included in the output."),
]


def _duration_or_none(value: object) -> float | None:
    return None if value is None else parse_duration(value)


class SamplingFields(_Open):
    """Fields shared by chat and text completions."""

    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0, description="llama.cpp extension")
    min_p: float | None = Field(None, ge=0.0, le=1.0, description="llama.cpp extension")
    repeat_penalty: float | None = Field(None, ge=0.0, description="llama.cpp extension")
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: StopField = None
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    keep_alive: Annotated[float | None, BeforeValidator(_duration_or_none)] = Field(
        None, description="Hoshikage extension: idle timeout for this model from now on")

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError(f"at most 4 stop sequences are allowed; got {len(stop)}")
        return stop

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def sampling(self) -> dict[str, Any]:
        """The GenerationRequest keyword arguments these fields set."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "repeat_penalty": self.repeat_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "seed": self.seed,
            "stop": tuple(self.stop_list()),
        }

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(SamplingFields):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessageIn] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(SamplingFields):
    """``POST /v1/completions``."""

    prompt: str | list[str]
    max_tokens: int | None = Field(16, ge=1)
    echo: bool = False
    suffix: str | None = None

    def prompt_text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) == 1:
            return self.prompt[0]
        raise InvalidRequestError(
            "Only a single prompt per request is supported for now; "
            f"got a list of {len(self.prompt)} prompts",
            param="prompt",
        )
