"""One loaded llama.cpp model: prompt building and the generation loop."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from hoshikage_core.chat_templates import CHATML, ChatTemplate, messages_for_template
from hoshikage_core.errors import ContextLengthExceededError, InvalidRequestError
from hoshikage_core.text import TokenTextStream
from hoshikage_core.types import (
    ChatMessage,
    Chunk,
    Embeddings,
    FinishReason,
    GenerationRequest,
    ModelSpec,
    Usage,
)

from .decode import decode
from .embedding import EmbeddingContext
from .logprobs import token_logprob
from .options import KV_CACHE_TYPES, LlamaCppOptions
from .sampling import build_sampler

__all__ = ["LlamaCppModel"]

log = logging.getLogger(__name__)


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=64)
def _grammar_for(schema_json: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class LlamaCppModel:
    """A ``llama_cpp.Llama`` plus what we need to serve it.

    One generation at a time: a llama.cpp context is not thread-safe, so
    :meth:`generate` holds a lock for as long as its iterator is open.
    """

    def __init__(self, spec: ModelSpec, options: LlamaCppOptions) -> None:
        import llama_cpp  # heavy: imported on first load only

        if spec.path is None:
            raise ValueError(f"model '{spec.name}' has no path: set models.{spec.name}.path")
        self._llama_cpp = llama_cpp
        self.name = spec.name
        self.path = spec.path
        self.options = options
        if options.n_gpu_layers != 0 and not llama_cpp.llama_supports_gpu_offload():
            log.info("%s: llama-cpp-python is built without GPU support; running on CPU",
                     spec.name)
        self.threads = options.n_threads or _default_threads()
        kwargs: dict[str, Any] = {
            "model_path": str(spec.path),
            "n_ctx": options.n_ctx,
            "n_threads": self.threads,
            "n_threads_batch": options.n_threads_batch or self.threads,
            "n_batch": options.n_batch,
            "n_gpu_layers": options.n_gpu_layers,
            "main_gpu": options.main_gpu,
            "tensor_split": options.tensor_split,
            "flash_attn": options.flash_attn,
            "use_mmap": options.use_mmap,
            "use_mlock": options.use_mlock,
            "verbose": options.verbose,
        }
        for key in ("type_k", "type_v"):
            value = getattr(options, key)
            if value is not None:
                kwargs[key] = getattr(llama_cpp, KV_CACHE_TYPES[value])
        if options.seed is not None:
            kwargs["seed"] = options.seed
        self.llama = llama_cpp.Llama(**kwargs)
        self._vocab = self.llama._model.vocab
        self._pieces: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self._template = self._chat_formatter()
        self._embedding: EmbeddingContext | None = None
        self._embedding_lock = threading.Lock()

    # -- chat template -------------------------------------------------------

    def _chat_formatter(self) -> ChatTemplate:
        options, metadata = self.options, self.llama.metadata
        model = self.llama._model
        bos, eos = self.llama.token_bos(), self.llama.token_eos()
        bos_text = model.token_get_text(bos) if bos >= 0 else ""
        eos_text = model.token_get_text(eos) if eos >= 0 else ""
        if options.chat_template is not None:
            return ChatTemplate(options.chat_template, bos_token=bos_text, eos_token=eos_text)
        if options.chat_format is not None:
            return ChatTemplate.named(options.chat_format, bos_token=bos_text,
                                      eos_token=eos_text)
        if metadata.get("tokenizer.chat_template"):
            return ChatTemplate(metadata["tokenizer.chat_template"], bos_token=bos_text,
                                eos_token=eos_text)
        log.warning("%s: the GGUF has no chat template; using ChatML. Set chat_format "
                    "in the model's options if the model expects another one.", self.name)
        return ChatTemplate(CHATML.jinja, stops=CHATML.stops, bos_token=bos_text,
                            eos_token=eos_text)

    def _format_chat(self, messages: Sequence[ChatMessage],
                     tools: Sequence[Mapping[str, Any]] | None = None) -> str:
        try:
            return self._template.render(messages_for_template(messages),
                                         [dict(t) for t in tools or []] or None)
        except Exception as exc:  # jinja errors and raise_exception() in templates
            raise InvalidRequestError(
                f"The chat template of model '{self.name}' rejected these messages: {exc}",
                param="messages",
            ) from exc

    # -- tokens --------------------------------------------------------------

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=add_special,
                                        special=True))

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_token_ids(tokens, "tokens")
        return b"".join(self._piece(t) for t in tokens).decode("utf-8", errors="replace")

    def _check_token_ids(self, tokens: Sequence[int], param: str) -> None:
        n_vocab = self.llama.n_vocab()
        bad = [t for t in tokens if not 0 <= int(t) < n_vocab]
        if bad:
            raise InvalidRequestError(
                f"Token ids {bad[:5]} are outside this model's vocabulary (0-{n_vocab - 1}).",
                param=param)

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The prompt as tokens: chat through the template, completion as is."""
        if request.messages is not None:
            # the template writes any BOS itself, as llama-cpp-python's chat handlers assume
            tokens = self.tokenize(self._format_chat(request.messages, request.tools),
                                   add_special=False)
        elif request.prompt_tokens is not None:
            tokens = [int(t) for t in request.prompt_tokens]
            self._check_token_ids(tokens, "prompt")
        else:
            tokens = self.tokenize(request.prompt or "")
        if request.suffix is not None:
            tokens = self._fill_in_the_middle(tokens, request.suffix)
        if not tokens:
            bos = self.llama.token_bos()
            if bos < 0:
                raise InvalidRequestError("The prompt is empty.", param="prompt")
            tokens = [bos]
        return tokens

    def _fill_in_the_middle(self, prefix: list[int], suffix: str) -> list[int]:
        lib, vocab = self._llama_cpp, self._vocab
        pre, suf, mid = (lib.llama_vocab_fim_pre(vocab), lib.llama_vocab_fim_suf(vocab),
                         lib.llama_vocab_fim_mid(vocab))
        if min(pre, suf, mid) < 0:
            raise InvalidRequestError(
                f"Model '{self.name}' has no fill-in-the-middle tokens, so it cannot take "
                "a suffix.", param="suffix")
        bos = self.llama.token_bos()
        if prefix and prefix[0] == bos:
            prefix = prefix[1:]
        head = [bos] if bos >= 0 and self.llama._model.add_bos_token() else []
        return [*head, pre, *prefix, suf, *self.tokenize(suffix, add_special=False), mid]

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            size = 64
            while True:
                buffer = ctypes.create_string_buffer(size)
                n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0,
                                                         False)
                if n >= 0:
                    piece = buffer.raw[:n]
                    break
                size = -n
            self._pieces[token] = piece
        return piece

    # -- generation ----------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        """Yield text chunks, then a final chunk with finish_reason and usage."""
        with self._lock:
            yield from self._generate_locked(request)

    def _grammar(self, request: GenerationRequest) -> Any:
        if request.json_schema is None:
            return None
        try:
            return _grammar_for(json.dumps(request.json_schema, sort_keys=True))
        except Exception as exc:
            raise InvalidRequestError(
                f"This JSON schema cannot be turned into a grammar: {exc}",
                param="response_format") from exc

    def _logit_bias(self, request: GenerationRequest) -> dict[int, float] | None:
        if not request.logit_bias:
            return None
        self._check_token_ids(list(request.logit_bias), "logit_bias")
        return {int(k): float(v) for k, v in request.logit_bias.items()}

    def _generate_locked(self, request: GenerationRequest) -> Iterator[Chunk]:
        llama = self.llama
        tokens = self.prompt_tokens(request)
        n_ctx = llama.n_ctx()
        if len(tokens) >= n_ctx:
            raise ContextLengthExceededError(
                len(tokens), n_ctx, param="messages" if request.is_chat else "prompt")
        room = n_ctx - len(tokens)
        max_tokens = min(request.max_tokens or room, room)
        seed = request.seed if request.seed is not None else self.options.seed
        sampler = build_sampler(llama, request, seed=seed, grammar=self._grammar(request),
                                logit_bias=self._logit_bias(request))
        text = TokenTextStream([*request.stop, *(self._template.stops if request.is_chat else ())])
        want_logprobs = request.logprobs is not None
        generated = 0
        finish_reason: FinishReason = "length"
        with contextlib.closing(decode(llama, tokens, sampler)) as token_stream:
            for token in token_stream:
                if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish_reason = "stop"
                    break
                generated += 1
                logprob = (token_logprob(llama, token, request.logprobs or 0, self._piece)
                           if want_logprobs else None)
                chunk = text.push(self._piece(token), logprob)
                if chunk is not None:
                    yield chunk
                if text.stopped or generated >= max_tokens:
                    break
        yield text.finish(finish_reason, Usage(prompt_tokens=len(tokens),
                                               completion_tokens=generated))

    # -- embeddings ------------------------------------------------------------

    def embed(self, inputs: Sequence[str | Sequence[int]]) -> Embeddings:
        with self._embedding_lock:
            if self._embedding is None:
                log.info("%s: opening an embedding context", self.name)
                self._embedding = EmbeddingContext(self.path, self.options, self.threads)
        return self._embedding.embed(inputs)

    def close(self) -> None:
        """Free the model and context now, not whenever the GC runs."""
        with self._lock, self._embedding_lock:
            if self._embedding is not None:
                self._embedding.close()
                self._embedding = None
            self.llama.close()
            self._pieces.clear()
