"""Embeddings from a llama.cpp model: a second context on the same GGUF.

Opened on the first embedding request (the weights are memory-mapped, so the
file is shared), with mean pooling unless the GGUF says otherwise, and
vectors normalised to length 1 as OpenAI's are.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hoshikage_core.errors import ContextLengthExceededError, InvalidRequestError
from hoshikage_core.types import Embeddings

from .options import LlamaCppOptions

__all__ = ["EmbeddingContext"]

MAX_EMBEDDING_CONTEXT = 8192


class EmbeddingContext:
    def __init__(self, path: Path, options: LlamaCppOptions, threads: int) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        probe_ctx = options.n_ctx or MAX_EMBEDDING_CONTEXT
        n_ctx = min(probe_ctx, MAX_EMBEDDING_CONTEXT)
        self.llama = llama_cpp.Llama(
            model_path=str(path), embedding=True, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
            n_threads=threads, n_threads_batch=threads, n_gpu_layers=options.n_gpu_layers,
            main_gpu=options.main_gpu, tensor_split=options.tensor_split,
            flash_attn=options.flash_attn is True,
            use_mmap=options.use_mmap, verbose=options.verbose,
            pooling_type=self._pooling(llama_cpp, path),
        )
        self.n_ctx = n_ctx
        self._lock = threading.Lock()

    @staticmethod
    def _pooling(llama_cpp: Any, path: Path) -> int:
        from hoshikage_core.gguf import read_gguf_header

        header = read_gguf_header(path)
        declared = header.arch_value("pooling_type")
        if declared is not None and int(declared) != llama_cpp.LLAMA_POOLING_TYPE_NONE:
            return int(declared)
        return int(llama_cpp.LLAMA_POOLING_TYPE_MEAN)

    def embed(self, inputs: Sequence[str | Sequence[int]]) -> Embeddings:
        with self._lock:
            vectors, total = [], 0
            for i, item in enumerate(inputs):
                tokens = self._tokens(item, i)
                total += len(tokens)
                vectors.append(self._embed_one(tokens))
            return Embeddings(vectors=vectors, prompt_tokens=total)

    def _tokens(self, item: str | Sequence[int], index: int) -> list[int]:
        llama = self.llama
        if isinstance(item, str):
            tokens = llama.tokenize(item.encode("utf-8"), add_bos=True, special=False)
        else:
            tokens = [int(t) for t in item]
            n_vocab = llama.n_vocab()
            if any(t < 0 or t >= n_vocab for t in tokens):
                raise InvalidRequestError(
                    f"input[{index}] has token ids outside the vocabulary (0-{n_vocab - 1})",
                    param="input")
        if not tokens:
            raise InvalidRequestError(f"input[{index}] is empty", param="input")
        if len(tokens) > self.n_ctx:
            raise ContextLengthExceededError(len(tokens), self.n_ctx, param="input")
        return tokens

    def _embed_one(self, tokens: list[int]) -> list[float]:
        llama, lib = self.llama, self._llama_cpp
        n_embd = llama.n_embd()
        llama._ctx.kv_cache_clear()
        llama._batch.reset()
        llama._batch.add_sequence(tokens, 0, True)
        llama._ctx.decode(llama._batch)
        if llama.pooling_type() == lib.LLAMA_POOLING_TYPE_NONE:
            pointer = lib.llama_get_embeddings(llama._ctx.ctx)
            rows = [pointer[j * n_embd:(j + 1) * n_embd] for j in range(len(tokens))]
            vector = [sum(col) / len(rows) for col in zip(*rows)]
        else:
            vector = list(lib.llama_get_embeddings_seq(llama._ctx.ctx, 0)[:n_embd])
        llama._batch.reset()
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]

    def close(self) -> None:
        with self._lock:
            self.llama.close()
