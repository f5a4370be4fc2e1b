"""One loaded llama.cpp model: prompts, tokens, and generation through the engine."""

from __future__ import annotations

import ctypes
import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from hoshikage_core.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    MaxTokensTooLargeError,
)
from hoshikage_core.kit.options import parse_options
from hoshikage_core.kit.templates import CHATML, ChatTemplate, TemplateError
from hoshikage_core.kit.text import TokenTextStream
from hoshikage_core.types import (
    ChatMessage,
    Chunk,
    Embeddings,
    GenerationRequest,
    LoadProgress,
    ModelSpec,
    Relevance,
)

from .draft_model import ModelDrafter, check_same_vocabulary
from .embedding import EmbeddingContext, declares_rank_pooling
from .engine import BatchEngine, Job
from .grammar import check_nesting, convertible
from .options import LlamaCppOptions
from .prompt_cache import HostPromptCache
from .runtime import Runtime
from .sampling import build_sampler
from .speculation import NgramDrafter

__all__ = ["LlamaCppModel"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def _grammar_for(schema_json: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(schema_json)
    check_nesting(gbnf, "response_format")
    return LlamaGrammar.from_string(gbnf, verbose=False)


class LlamaCppModel:
    """A llama.cpp model with a context for ``parallel`` sequences.

    Generations run on the model's :class:`BatchEngine`; up to ``parallel``
    of them decode together. Prompts are built and tokenized on the calling
    thread.
    """

    def __init__(self, spec: ModelSpec, options: LlamaCppOptions,
                 progress: LoadProgress | None = None) -> None:
        if spec.path is None:
            raise ValueError(f"model '{spec.name}' has no path: set models.{spec.name}.path")
        self.name = spec.name
        self.path = spec.path
        self.options = options
        self.runtime = Runtime(spec.path, options, max(1, spec.parallel), name=spec.name,
                               progress=progress)
        self._lib = self.runtime.lib
        self._model = self.runtime.model
        self._vocab = self.runtime.vocab
        self._pieces: dict[int, bytes] = {}
        drafter: ModelDrafter | None = None
        try:
            self._template = self._chat_template()
            if spec.draft is not None and options.speculation != "off":
                drafter = self._draft_model(spec.draft)
        except BaseException:
            self.runtime.close()
            raise
        host_cache = HostPromptCache(options.prompt_cache) if options.prompt_cache else None
        self.engine = BatchEngine(self.runtime, self._piece, spec.name, host_cache=host_cache,
                                  draft_model=drafter)
        self.is_reranker = declares_rank_pooling(spec.path)
        self._embedding: EmbeddingContext | None = None
        self._embedding_lock = threading.Lock()

    def _draft_model(self, draft: ModelSpec) -> ModelDrafter:
        """The ``draft_model``'s weights, with a context as long as this model's."""
        if draft.path is None:
            raise ValueError(f"draft_model '{draft.name}' has no path")
        own = parse_options(LlamaCppOptions, draft)
        options = own.model_copy(update={"n_ctx": self.runtime.n_ctx_seq, "prompt_cache": 0,
                                         "n_batch": self.runtime.n_batch})
        runtime = Runtime(draft.path, options, max(1, self.runtime.parallel),
                          name=f"{self.name} (draft model {draft.name})")
        try:
            check_same_vocabulary(self.runtime, runtime, (self.name, draft.name))
        except BaseException:
            runtime.close()
            raise
        log.info("%s: speculative decoding with draft model %s", self.name, draft.name)
        return ModelDrafter(runtime)

    @property
    def n_ctx(self) -> int:
        """Tokens one generation may use (prompt and answer)."""
        return self.runtime.n_ctx_seq

    # -- chat template -------------------------------------------------------

    def _chat_template(self) -> ChatTemplate:
        try:
            return self._compile_chat_template()
        except TemplateError as exc:
            raise ValueError(f"model '{self.name}': {exc}") from exc

    def _compile_chat_template(self) -> ChatTemplate:
        options, metadata, model = self.options, self._model.metadata(), self._model
        bos, eos = model.token_bos(), model.token_eos()
        bos_text = model.token_get_text(bos) if bos >= 0 else ""
        eos_text = model.token_get_text(eos) if eos >= 0 else ""
        if options.chat_template is not None:
            return ChatTemplate(options.chat_template, bos_token=bos_text, eos_token=eos_text)
        if options.chat_format is not None:
            return ChatTemplate.named(options.chat_format, bos_token=bos_text,
                                      eos_token=eos_text)
        if metadata.get("tokenizer.chat_template"):
            prefix = "tokenizer.chat_template."  # named variants, e.g. ...tool_use
            variants = {key[len(prefix):]: ChatTemplate(value, bos_token=bos_text,
                                                        eos_token=eos_text)
                        for key, value in metadata.items() if key.startswith(prefix) and value}
            return ChatTemplate(metadata["tokenizer.chat_template"], bos_token=bos_text,
                                eos_token=eos_text, variants=variants)
        log.warning("%s: the GGUF has no chat template; using ChatML. Set chat_format "
                    "in the model's options if the model expects another one.", self.name)
        return ChatTemplate(CHATML.jinja, stops=CHATML.stops, bos_token=bos_text,
                            eos_token=eos_text)

    @property
    def chat_template(self) -> ChatTemplate:
        """The template chats are rendered with (what ``hoshikage_chat_template`` gives)."""
        return self._template

    def _format_chat(self, messages: Sequence[ChatMessage],
                     tools: Sequence[Mapping[str, Any]] | None = None) -> str:
        try:
            return self._template.render(messages, tools)
        except TemplateError as exc:  # jinja errors and raise_exception() in templates
            raise InvalidRequestError(
                f"The chat template of model '{self.name}' rejected these messages: {exc}",
                param="messages",
            ) from exc

    # -- tokens --------------------------------------------------------------

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=add_special,
                                         special=True))

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_token_ids(tokens, "tokens")
        return b"".join(self._piece(t) for t in tokens).decode("utf-8", errors="replace")

    def _check_token_ids(self, tokens: Sequence[int], param: str) -> None:
        n_vocab = self.runtime.n_vocab
        bad = [t for t in tokens if not 0 <= int(t) < n_vocab]
        if bad:
            raise InvalidRequestError(
                f"Token ids {bad[:5]} are outside this model's vocabulary (0-{n_vocab - 1}).",
                param=param)

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The prompt as tokens: chat through the template, completion as is."""
        if request.messages is not None or request.chat_prompt is not None:
            # the template writes any BOS itself, as llama-cpp-python's chat handlers assume
            text = request.chat_prompt if request.chat_prompt is not None \
                else self._format_chat(request.messages or (), request.tools)
            tokens = self.tokenize(text, add_special=False)
        elif request.prompt_tokens is not None:
            tokens = [int(t) for t in request.prompt_tokens]
            self._check_token_ids(tokens, "prompt")
        else:
            tokens = self.tokenize(request.prompt or "")
        if request.suffix is not None:
            tokens = self._fill_in_the_middle(tokens, request.suffix)
        if not tokens:
            bos = self._model.token_bos()
            if bos < 0:
                raise InvalidRequestError("The prompt is empty.", param="prompt")
            tokens = [bos]
        return tokens

    def _fill_in_the_middle(self, prefix: list[int], suffix: str) -> list[int]:
        lib, vocab = self._lib, self._vocab
        pre, suf, mid = (lib.llama_vocab_fim_pre(vocab), lib.llama_vocab_fim_suf(vocab),
                         lib.llama_vocab_fim_mid(vocab))
        if min(pre, suf, mid) < 0:
            raise InvalidRequestError(
                f"Model '{self.name}' has no fill-in-the-middle tokens, so it cannot take "
                "a suffix.", param="suffix")
        bos = self._model.token_bos()
        if prefix and prefix[0] == bos:
            prefix = prefix[1:]
        head = [bos] if bos >= 0 and self._model.add_bos_token() else []
        return [*head, pre, *prefix, suf, *self.tokenize(suffix, add_special=False), mid]

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            size = 64
            while True:
                buffer = ctypes.create_string_buffer(size)
                n = self._lib.llama_token_to_piece(self._vocab, token, buffer, size, 0, False)
                if n >= 0:
                    piece = buffer.raw[:n]
                    break
                size = -n
            self._pieces[token] = piece
        return piece

    # -- generation ----------------------------------------------------------

    def _grammar(self, request: GenerationRequest) -> Any:
        if request.json_schema is None:
            return None
        try:
            return _grammar_for(json.dumps(convertible(request.json_schema), sort_keys=True))
        except InvalidRequestError:
            raise
        except Exception as exc:
            raise InvalidRequestError(
                f"This JSON schema cannot be turned into a grammar: {exc}",
                param="response_format") from exc

    def _logit_bias(self, request: GenerationRequest) -> dict[int, float] | None:
        if not request.logit_bias:
            return None
        self._check_token_ids(list(request.logit_bias), "logit_bias")
        return {int(k): float(v) for k, v in request.logit_bias.items()}

    def job(self, request: GenerationRequest) -> Job:
        """Everything the engine needs for ``request``; client errors raise here."""
        if self.is_reranker:  # an encoder with a score head: nothing to generate with
            raise InvalidRequestError(f"Model '{self.name}' is a reranker: it scores "
                                      "documents (/v1/rerank) and writes no text.",
                                      param="model")
        MaxTokensTooLargeError.check(request.max_tokens, self.n_ctx)
        tokens = self.prompt_tokens(request)
        if len(tokens) >= self.n_ctx:
            raise ContextLengthExceededError(
                len(tokens), self.n_ctx, param="messages" if request.is_chat else "prompt")
        room = self.n_ctx - len(tokens)
        seed = request.seed if request.seed is not None else self.options.seed
        sampler = build_sampler(self._model, request, seed=seed,
                                grammar=self._grammar(request),
                                logit_bias=self._logit_bias(request))
        stops = [*request.stop, *(self._template.stops if request.is_chat else ())]
        drafter = (NgramDrafter(tokens, self.options.draft_max, self.options.draft_min)
                   if self.options.speculation == "ngram" else None)
        return Job(prompt=tokens, max_tokens=min(request.max_tokens or room, room),
                   sampler=sampler, text=TokenTextStream(stops), logprobs=request.logprobs,
                   drafter=drafter)

    def generate(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Build the job here (may block: template, tokenizer; client errors raise
        here), then stream it on the caller's event loop: text chunks, then a final
        chunk with finish_reason and usage."""
        return self.engine.submit(self.job(request))

    # -- embeddings ------------------------------------------------------------

    def embed(self, inputs: Sequence[str | Sequence[int]]) -> Embeddings:
        return self._embedding_context().embed(inputs, self.name)

    def rerank(self, query: str, documents: Sequence[str]) -> Relevance:
        return self._embedding_context().rank(query, documents, self.name)

    def _embedding_context(self) -> EmbeddingContext:
        with self._embedding_lock:
            if self._embedding is None:
                log.info("%s: opening an embedding context", self.name)
                self._embedding = EmbeddingContext(self.path, self.options,
                                                   self.runtime.threads)
            return self._embedding

    def close(self) -> None:
        """Stop the engine and free the context and model now."""
        self.engine.close()
        self.engine.close_cache()
        with self._embedding_lock:
            if self._embedding is not None:
                self._embedding.close()
                self._embedding = None
        self.runtime.close()
        self._pieces.clear()
