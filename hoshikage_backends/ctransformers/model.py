"""One loaded ctransformers model and its generation loop."""

from __future__ import annotations

import ctypes
import os
import random
import threading
from collections.abc import Iterator
from typing import Any

from hoshikage_core.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    MaxTokensTooLargeError,
)
from hoshikage_core.kit.gguf import is_gguf, read_gguf_header
from hoshikage_core.kit.templates import ChatTemplate, TemplateError
from hoshikage_core.kit.text import TokenTextStream
from hoshikage_core.types import Chunk, FinishReason, GenerationRequest, ModelSpec, Usage

from .options import CTransformersOptions

__all__ = ["CTransformersModel", "SAMPLING_DEFAULTS"]

SAMPLING_DEFAULTS = {"temperature": 0.8, "top_p": 0.95, "top_k": 40, "repeat_penalty": 1.1}

def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class CTransformersModel:
    """A ctransformers ``LLM``; one call at a time (it is not thread-safe)."""

    def __init__(self, spec: ModelSpec, options: CTransformersOptions) -> None:
        if spec.path is None:
            raise ValueError(f"model '{spec.name}' has no path: set models.{spec.name}.path")
        self.name, self.options = spec.name, options
        self.threads = options.threads or _threads()
        kwargs = {"model_type": options.model_type, "threads": self.threads,
                  "batch_size": options.batch_size, "gpu_layers": options.gpu_layers,
                  "last_n_tokens": options.last_n_tokens}
        if options.context_length is not None:
            kwargs["context_length"] = options.context_length
        if is_gguf(spec.path):
            read_gguf_header(spec.path)  # a corrupt file would crash ctransformers; refuse it
        from ctransformers import AutoModelForCausalLM

        self.llm: Any = AutoModelForCausalLM.from_pretrained(
            str(spec.path), **{k: v for k, v in kwargs.items() if v is not None})
        self._lock = threading.Lock()
        self.template = (ChatTemplate(options.chat_template) if options.chat_template
                         else ChatTemplate.named(options.chat_format))

    @property
    def chat_template(self) -> ChatTemplate:
        return self.template

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        if request.chat_prompt is not None:
            text = request.chat_prompt
        elif request.messages is not None:
            try:
                text = self.template.render(request.messages, request.tools)
            except TemplateError as exc:
                raise InvalidRequestError(f"The chat template rejected these messages: {exc}",
                                          param="messages") from exc
        else:
            text = request.prompt or ""
        tokens = self._tokenize(text, add_bos=self.llm.model_type in ("llama", "gguf"))
        if not tokens:
            raise InvalidRequestError("The prompt is empty.", param="prompt")
        return tokens

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        with self._lock:
            return self._tokenize(text, add_special)

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        """``LLM.tokenize`` with a buffer that is big enough.

        ctransformers 0.2.27 gives the C tokenizer room for len(text) + 1 tokens,
        counted in characters; a BOS plus a leading space marker, or byte-fallback
        tokens for non-ASCII text, overrun it and corrupt the heap (a crash
        later, elsewhere). One token per byte, plus BOS and the marker, is the
        most a tokenizer can produce.
        """
        data = text.encode("utf-8")
        buffer = (ctypes.c_int * (len(data) + 16))()
        count = self.llm.ctransformers_llm_tokenize(data, add_bos, buffer)
        return list(buffer[:count])

    def detokenize(self, tokens: list[int]) -> str:
        with self._lock:
            return str(self.llm.detokenize(list(tokens)))

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        with self._lock:
            yield from self._generate_locked(request)

    def _generate_locked(self, request: GenerationRequest) -> Iterator[Chunk]:
        context = int(self.llm.context_length)
        MaxTokensTooLargeError.check(request.max_tokens, context)
        tokens = self.prompt_tokens(request)
        if len(tokens) >= context:
            raise ContextLengthExceededError(len(tokens), context,
                                             param="messages" if request.is_chat else "prompt")
        room = context - len(tokens)
        max_tokens = min(request.max_tokens or room, room)
        value = {k: getattr(request, k) if getattr(request, k) is not None else default
                 for k, default in SAMPLING_DEFAULTS.items()}
        seed = request.seed if request.seed is not None else self.options.seed
        text = TokenTextStream([*request.stop, *(self.template.stops if request.is_chat else ())])
        generated, finish_reason = 0, "stop"
        stream = self.llm.generate(
            tokens, top_k=int(value["top_k"]), top_p=value["top_p"],
            temperature=value["temperature"], repetition_penalty=value["repeat_penalty"],
            last_n_tokens=self.options.last_n_tokens,
            seed=seed if seed is not None else random.randrange(2**31),
            batch_size=self.options.batch_size, threads=self.threads, reset=True)
        try:
            for token in stream:  # ends by itself at the end-of-sequence token
                generated += 1
                chunk = text.push(self.llm.detokenize([token], decode=False))
                if chunk is not None:
                    yield chunk
                if text.stopped:
                    break
                if generated >= max_tokens:
                    finish_reason = "length"
                    break
        finally:
            stream.close()
        reason: FinishReason = "length" if finish_reason == "length" else "stop"
        yield text.finish(reason, Usage(prompt_tokens=len(tokens), completion_tokens=generated))

    def close(self) -> None:
        with self._lock:
            del self.llm
