"""OpenAI wire format: request bodies, validated into pydantic models.

Request models accept unknown fields (OpenAI clients send many); the routers
log them at debug level and ignore them. Known fields are strict about types, as
OpenAI is: ``"stream": "yes"`` or ``"n": "2"`` is a 400, not a guess. Responses
are built as plain dicts where they are produced.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ...errors import InvalidRequestError
from ...serving import (
    ANY_OBJECT,
    ChatRequest,
    NamedTool,
    Sampling,
    TextRequest,
    ToolChoice,
    ToolSpec,
    checked_schema,
)
from ...types import ChatMessage
from ..wire import KeepAlive

__all__ = [
    "ChatCompletionRequest",
    "ChatMessageIn",
    "CompletionRequest",
    "EmbeddingRequest",
    "ResponseFormat",
    "SamplingFields",
    "StreamOptions",
    "ToolDefinition",
]

MAX_N = 128  # the per-model limit is [models.NAME] max_n
MAX_TOP_LOGPROBS = 20


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class TextPart(_Open):
    type: str
    text: str | None = None


class FunctionCall(_Open):
    name: str
    arguments: str = "{}"


class ToolCallIn(_Open):
    id: str = ""
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessageIn(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = Field(None, description="alias of reasoning_content (vLLM, Ollama)")

    def to_internal(self, index: int) -> ChatMessage:
        """Flatten text parts; refuse parts the model cannot take."""
        content = self.content
        if isinstance(content, list):
            texts = []
            for j, part in enumerate(content):
                if part.type not in ("text", "input_text") or part.text is None:
                    raise InvalidRequestError(
                        f"messages[{index}].content[{j}] is of type '{part.type}'; "
                        "this model only takes text parts",
                        param=f"messages[{index}].content[{j}].type",
                    )
                texts.append(part.text)
            content = "".join(texts)
        calls = [c.model_dump(include={"id", "type", "function"}) for c in self.tool_calls or []]
        return ChatMessage(role=self.role, content=content or "", name=self.name,
                           tool_calls=calls or None, tool_call_id=self.tool_call_id,
                           reasoning=self.reasoning_content or self.reasoning)


class StreamOptions(_Open):
    include_usage: bool = False


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
    stop: str | list[str] | None = Field(
        None, description="Up to 4 sequences where generation stops; never in the output.")
    n: int = Field(1, ge=1, le=MAX_N)
    logit_bias: dict[str, float] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    keep_alive: KeepAlive = Field(
        None, description="Hoshikage/Ollama extension: how long the model stays loaded "
                    "after this request (instead of its idle_timeout)")

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, stop: str | list[str] | None) -> str | list[str] | None:
        if isinstance(stop, list) and len(stop) > 4:
            raise ValueError(f"at most 4 stop sequences are allowed; got {len(stop)}")
        return stop

    @field_validator("logit_bias")
    @classmethod
    def _token_ids(cls, bias: dict[str, float] | None) -> dict[str, float] | None:
        for key, value in (bias or {}).items():
            if not key.lstrip("-").isdigit() or int(key) < 0:
                raise ValueError(f"keys must be token ids (non-negative integers); got {key!r}")
            if not -100 <= value <= 100:
                raise ValueError(f"biases must be between -100 and 100; got {value} for {key}")
        return bias

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def sampling(self, max_tokens: int | None) -> Sampling:
        """These fields as the services take them."""
        return Sampling(
            max_tokens=max_tokens,
            **self._sampling_fields(),
        )

    def _sampling_fields(self) -> dict[str, Any]:
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
            "logit_bias": {int(k): v for k, v in self.logit_bias.items()}
            if self.logit_bias else None,
        }

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class JSONSchemaFormat(_Open):
    name: str = Field("response", max_length=64)
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type 'json_schema' needs a 'json_schema' object with a 'schema'")
        return self

    def answer_schema(self) -> dict[str, Any] | None:
        """The JSON schema the answer must satisfy, or None for free text (400 if broken)."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return ANY_OBJECT
        assert self.json_schema is not None
        return checked_schema(self.json_schema.schema_,
                              param="response_format.json_schema.schema")


class FunctionDefinition(_Open):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object",
                                                                "properties": {}})
    strict: bool | None = None


class ToolDefinition(_Open):
    type: Literal["function"]
    function: FunctionDefinition


class NamedToolChoice(_Open):
    type: Literal["function"]
    function: dict[str, str]

    @field_validator("function")
    @classmethod
    def _has_name(cls, function: dict[str, str]) -> dict[str, str]:
        if not function.get("name"):
            raise ValueError("needs a function name: {\"function\": {\"name\": ...}}")
        return function


class ChatCompletionRequest(SamplingFields):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessageIn] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    response_format: ResponseFormat | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    chat_template_kwargs: dict[str, Any] | None = Field(
        None, description="llama-server/vLLM extension: extra chat template variables, "
        "e.g. {\"enable_thinking\": false}")
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    reasoning_format: Literal["auto", "none"] | None = Field(
        None, description="llama-server extension: 'none' leaves thinking in content")
    reasoning_budget: int | None = Field(
        None, ge=0, description="Hoshikage extension: tokens of thinking before the think "
        "block is closed")

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and not self.logprobs:
            raise InvalidRequestError("top_logprobs needs logprobs: true", param="top_logprobs")
        return self  # tool_choice against tools: the chat service checks it, for every caller

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def to_service(self) -> ChatRequest:
        """This request as the chat service takes it."""
        choice: ToolChoice | None = (
            NamedTool(self.tool_choice.function["name"])
            if isinstance(self.tool_choice, NamedToolChoice) else self.tool_choice)
        return ChatRequest(
            model=self.model,
            messages=[m.to_internal(i) for i, m in enumerate(self.messages)],
            tools=tuple(ToolSpec(t.function.name, t.function.description,
                                 t.function.parameters) for t in self.tools or ()),
            tool_choice=choice,
            parallel_tool_calls=self.parallel_tool_calls,
            response_schema=(self.response_format.answer_schema() if self.response_format
                             else None),
            n=self.n,
            logprobs=(self.top_logprobs or 0) if self.logprobs else None,
            sampling=self.sampling(self.token_limit()),
            keep_alive=self.keep_alive,
            chat_template_kwargs=self.chat_template_kwargs or {},
            reasoning_format=self.reasoning_format,
            reasoning_budget=self.reasoning_budget,
            reasoning_effort=self.reasoning_effort,
        )


PromptField = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(SamplingFields):
    """``POST /v1/completions``."""

    prompt: PromptField
    max_tokens: int | None = Field(16, ge=1)
    echo: bool = False
    suffix: str | None = None
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    best_of: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> CompletionRequest:
        if self.best_of not in (None, self.n):
            raise InvalidRequestError(
                "best_of is not supported (it must be left out or equal n)", param="best_of")
        if isinstance(self.prompt, list) and not self.prompt:
            raise InvalidRequestError("prompt is an empty list", param="prompt")
        if self.echo and self.logprobs is not None:
            raise InvalidRequestError(
                "echo together with logprobs (log probabilities of the prompt) is not "
                "supported", param="logprobs")
        return self

    def to_service(self) -> TextRequest:
        """This request as the completion service takes it."""
        return TextRequest(model=self.model, prompts=self.prompts(), n=self.n, echo=self.echo,
                           suffix=self.suffix, logprobs=self.logprobs,
                           sampling=self.sampling(self.max_tokens), keep_alive=self.keep_alive)

    def prompts(self) -> list[str | list[int]]:
        """Each prompt, as text or token ids."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [prompt]
        if all(isinstance(p, int) for p in prompt):
            return [list(prompt)]  # type: ignore[arg-type]
        return list(prompt)  # type: ignore[arg-type]


class EmbeddingRequest(_Open):
    """``POST /v1/embeddings``."""

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None
    keep_alive: KeepAlive = None

    def inputs(self) -> list[str | list[int]]:
        items = self.input
        if isinstance(items, str):
            result: list[str | list[int]] = [items]
        elif items and all(isinstance(x, int) for x in items):
            result = [list(items)]  # type: ignore[arg-type]
        else:
            result = list(items)  # type: ignore[arg-type]
        if not result:
            raise InvalidRequestError("input must not be empty", param="input")
        return result
