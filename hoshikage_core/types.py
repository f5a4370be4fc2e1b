"""The seam between the HTTP layer and backends: requests in, chunks out.

These types are HTTP-free. Backends receive a :class:`ModelSpec` to load and a
:class:`GenerationRequest` to serve, and yield :class:`Chunk` objects. The last
chunk of every generation carries ``finish_reason`` and ``usage``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Alt",
    "CharRange",
    "ChatMessage",
    "Constraint",
    "Json",
    "Relevance",
    "Lit",
    "Opt",
    "Rep",
    "Seq",
    "Chunk",
    "Embeddings",
    "FinishReason",
    "GenerationRequest",
    "LoadProgress",
    "ModelSpec",
    "TokenLogprob",
    "TopLogprob",
    "Usage",
]

FinishReason = Literal["stop", "length"]

LoadProgress = Callable[[float], None]
"""How a backend reports a load advancing: call it with the fraction done (0.0-1.0).

Safe to call from any thread, as often as the backend likes (Hoshikage keeps
whole percents); a backend that cannot tell simply never calls it.
"""


@dataclass(frozen=True)
class ModelSpec:
    """What a backend needs to load one configured model.

    ``options`` is the model's ``[models.NAME.options]`` table. Hoshikage asks
    the backend to check it once, at startup (``hoshikage_validate_options``);
    if that hook returns the options normalised (e.g. a ``BackendOptions``),
    ``options`` is that value in every later hook call, else the table exactly
    as written. ``parse_options`` handles both.
    """

    name: str
    path: Path | None
    options: Mapping[str, Any] | Any = field(default_factory=dict)
    parallel: int = 1
    """How many generations Hoshikage may run on this model at once (``parallel``)."""
    draft: ModelSpec | None = None
    """The model named by ``draft_model``, if set: a smaller model with the same
    vocabulary whose drafts the backend may check (speculative decoding), loaded
    with this model (``parallel`` is this model's). Backends may ignore it."""


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. ``content`` is plain text.

    An assistant turn that called tools carries ``tool_calls`` (OpenAI's
    shape: ``{"id", "type": "function", "function": {"name", "arguments"}}``,
    ``arguments`` as JSON text); a ``tool`` turn answering one carries
    ``tool_call_id``. ``reasoning`` is what an assistant turn thought before
    answering, for templates that show earlier thinking.
    """

    role: str
    content: str
    name: str | None = None
    tool_calls: Sequence[Mapping[str, Any]] | None = None
    tool_call_id: str | None = None
    reasoning: str | None = None


@dataclass(frozen=True)
class Lit:
    """Exactly this text."""

    text: str


@dataclass(frozen=True)
class Json:
    """A JSON value valid against ``schema``."""

    schema: Mapping[str, Any]


@dataclass(frozen=True)
class CharRange:
    """One or more characters (at most ``most``): those listed (``0-9``,
    ``a-zA-Z_``), or with ``negate`` any character but them."""

    chars: str
    negate: bool = False
    most: int | None = None


@dataclass(frozen=True)
class Seq:
    """These, one after another."""

    items: tuple[GrammarNode, ...]


@dataclass(frozen=True)
class Alt:
    """One of these."""

    options: tuple[GrammarNode, ...]


@dataclass(frozen=True)
class Opt:
    """This, or nothing."""

    item: GrammarNode


@dataclass(frozen=True)
class Rep:
    """``item``, then ``separator`` and ``item`` again, any number of times (at least once)."""

    item: GrammarNode
    separator: GrammarNode | None = None


GrammarNode = Lit | Json | CharRange | Seq | Alt | Opt | Rep


@dataclass(frozen=True)
class Constraint:
    """What the output must look like: ``grammar``, from the start; or, with
    ``triggers``, free text until one of them appears, and ``grammar`` from there
    (the trigger is the grammar's start): a tool call in the model's own syntax.
    Backends that honour ``constraint`` compile it (llamacpp: to GBNF)."""

    grammar: GrammarNode
    triggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, as a backend sees it.

    Exactly one of ``messages`` (chat: the backend applies the model's chat
    template), ``chat_prompt`` (chat, already rendered with the template the
    backend gave through ``hoshikage_chat_template``: special tokens in it are
    tokens, no BOS is added), ``prompt`` (completion: the raw text) and
    ``prompt_tokens`` (completion: token ids) is set. Fields left as ``None`` mean "the
    backend's default". A backend that cannot honour a field that is set must
    raise ``InvalidRequestError(param=...)`` rather than ignore it.
    """

    model: str
    messages: Sequence[ChatMessage] | None = None
    chat_prompt: str | None = None
    prompt: str | None = None
    prompt_tokens: Sequence[int] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    logit_bias: Mapping[int, float] | None = None
    logprobs: int | None = None
    """Return each token's log probability and this many alternatives (0-20)."""
    json_schema: Mapping[str, Any] | None = None
    """Constrain the output to JSON valid against this schema; ``{"type": "object"}``: any."""
    constraint: Constraint | None = None
    """Constrain the output to a grammar (tool calls in the model's own format)."""
    tools: Sequence[Mapping[str, Any]] | None = None
    """OpenAI tool definitions, for chat templates that render them."""
    suffix: str | None = None
    """Text after the completion (fill-in-the-middle), for models that support it."""

    def __post_init__(self) -> None:
        given = [x for x in (self.messages, self.chat_prompt, self.prompt, self.prompt_tokens)
                 if x is not None]
        if len(given) != 1:
            raise ValueError("GenerationRequest needs exactly one of messages, chat_prompt, "
                             "prompt and prompt_tokens")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None or self.chat_prompt is not None


@dataclass(frozen=True)
class Usage:
    """Exact token counts of one generation."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    """Prompt tokens found in the backend's cache rather than evaluated again."""
    reasoning_tokens: int = 0
    """Completion tokens the model spent thinking (counted by Hoshikage's chat service)."""
    draft_tokens: int = 0
    """Tokens the backend proposed by speculative decoding and checked with the model."""
    accepted_draft_tokens: int = 0
    """Of ``draft_tokens``, those the model wrote (each saved a decode step)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TopLogprob:
    """One candidate token and its log probability."""

    token: str
    logprob: float
    bytes: tuple[int, ...] = ()


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token, its log probability and the most likely alternatives."""

    token: str
    logprob: float
    bytes: tuple[int, ...] = ()
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of generated text.

    Intermediate chunks carry ``text`` only. The final chunk carries
    ``finish_reason`` and ``usage`` (and may carry the last ``text`` too).
    With ``GenerationRequest.logprobs`` set, ``logprobs`` lists the tokens
    whose text this chunk releases.
    """

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    logprobs: tuple[TokenLogprob, ...] = ()
    tokens: int = 0
    """How many generated tokens ``text`` comes from (0: the backend does not say);
    reasoning tokens are counted with it."""
    stop_sequence: str | None = None
    """On the final chunk: the stop sequence that ended the text, if one did."""

    @property
    def is_final(self) -> bool:
        return self.finish_reason is not None


@dataclass(frozen=True)
class Embeddings:
    """Vectors for a batch of inputs, in order, and the tokens they took."""

    vectors: Sequence[Sequence[float]]
    prompt_tokens: int


@dataclass(frozen=True)
class Relevance:
    """How relevant each document is to a query (higher: more), in the documents'
    order, and the tokens scoring them took."""

    scores: Sequence[float]
    prompt_tokens: int
