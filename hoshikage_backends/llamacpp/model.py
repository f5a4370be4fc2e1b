"""One loaded llama.cpp model and its generation loop."""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import os
import random
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from hoshikage_core.errors import ContextLengthExceededError, InvalidRequestError
from hoshikage_core.text import StopMatcher
from hoshikage_core.types import ChatMessage, Chunk, GenerationRequest, ModelSpec, Usage

from .chat_templates import CHATML, NAMED_TEMPLATES
from .options import KV_CACHE_TYPES, LlamaCppOptions

__all__ = ["LlamaCppModel", "SAMPLING_DEFAULTS"]

log = logging.getLogger(__name__)

# llama.cpp server defaults, used where a request leaves a field out.
SAMPLING_DEFAULTS: dict[str, float] = {
    "temperature": 0.8,
    "top_p": 0.95,
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
}


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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
        self.options = options
        if options.n_gpu_layers != 0 and not llama_cpp.llama_supports_gpu_offload():
            log.info("%s: llama-cpp-python is built without GPU support; running on CPU",
                     spec.name)
        threads = options.n_threads or _default_threads()
        kwargs: dict[str, Any] = {
            "model_path": str(spec.path),
            "n_ctx": options.n_ctx,
            "n_threads": threads,
            "n_threads_batch": options.n_threads_batch or threads,
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
        self._formatter, self._template_stops = self._chat_formatter()

    # -- chat template -------------------------------------------------------

    def _chat_formatter(self) -> tuple[Any, tuple[str, ...]]:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        options, metadata = self.options, self.llama.metadata
        stops: tuple[str, ...] = ()
        if options.chat_template is not None:
            template, source = options.chat_template, "chat_template option"
        elif options.chat_format is not None:
            named = NAMED_TEMPLATES[options.chat_format]
            template, stops = named.jinja, named.stops
            source = f"chat_format {options.chat_format}"
        elif metadata.get("tokenizer.chat_template"):
            template, source = metadata["tokenizer.chat_template"], "the GGUF file"
        else:
            log.warning("%s: the GGUF has no chat template; using ChatML. Set chat_format "
                        "in the model's options if the model expects another one.", self.name)
            template, stops, source = CHATML.jinja, CHATML.stops, "ChatML fallback"
        log.debug("%s: chat template from %s", self.name, source)
        model = self.llama._model
        bos, eos = self.llama.token_bos(), self.llama.token_eos()
        formatter = Jinja2ChatFormatter(
            template=template,
            bos_token=model.token_get_text(bos) if bos >= 0 else "",
            eos_token=model.token_get_text(eos) if eos >= 0 else "",
        )
        return formatter, stops

    def _format_chat(self, messages: Sequence[ChatMessage]) -> tuple[str, bool]:
        turns = []
        for m in messages:
            turn = {"role": "system" if m.role == "developer" else m.role, "content": m.content}
            if m.name:
                turn["name"] = m.name
            turns.append(turn)
        try:
            result = self._formatter(messages=turns)
        except Exception as exc:  # jinja errors and raise_exception() in templates
            raise InvalidRequestError(
                f"The chat template of model '{self.name}' rejected these messages: {exc}",
                param="messages",
            ) from exc
        return result.prompt, bool(result.added_special)

    # -- tokens --------------------------------------------------------------

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The prompt as tokens: chat through the template, completion as is."""
        if request.messages is not None:
            text, added_special = self._format_chat(request.messages)
            add_bos = not added_special
        else:
            text, add_bos = request.prompt or "", True
        tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
        if not tokens:
            bos = self.llama.token_bos()
            if bos < 0:
                raise InvalidRequestError("The prompt is empty.", param="prompt")
            tokens = [bos]
        return tokens

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
        llama.set_seed(seed if seed is not None else random.randrange(2**31))
        sampling = {
            key: getattr(request, key) if getattr(request, key) is not None else default
            for key, default in SAMPLING_DEFAULTS.items()
        }
        stops = StopMatcher([*request.stop, *(self._template_stops if request.is_chat else ())])
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated = 0
        finish_reason = "length"
        token_stream = llama.generate(
            tokens,
            temp=sampling["temperature"],
            top_p=sampling["top_p"],
            top_k=int(sampling["top_k"]),
            min_p=sampling["min_p"],
            repeat_penalty=sampling["repeat_penalty"],
            presence_penalty=sampling["presence_penalty"],
            frequency_penalty=sampling["frequency_penalty"],
        )
        with contextlib.closing(token_stream):
            for token in token_stream:
                if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish_reason = "stop"
                    break
                generated += 1
                text, hit_stop = stops.feed(decoder.decode(self._piece(token)))
                if text:
                    yield Chunk(text=text)
                if hit_stop:
                    finish_reason = "stop"
                    break
                if generated >= max_tokens:
                    break
        tail = ""
        if not stops.stopped:
            tail, hit_stop = stops.feed(decoder.decode(b"", final=True))
            if hit_stop:
                finish_reason = "stop"
            else:
                tail += stops.flush()
        yield Chunk(text=tail, finish_reason=finish_reason,  # type: ignore[arg-type]
                    usage=Usage(prompt_tokens=len(tokens), completion_tokens=generated))

    def close(self) -> None:
        """Free the model and context now, not whenever the GC runs."""
        with self._lock:
            self.llama.close()
            self._pieces.clear()
