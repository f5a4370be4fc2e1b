"""Embeddings and rerank scores from a llama.cpp model: a second context on the
same GGUF.

Opened on the first embedding or rerank request (the weights are memory-mapped,
so the file is shared), with mean pooling unless the GGUF says otherwise, and
vectors normalised to length 1 as OpenAI's are. A GGUF that declares rank
pooling (bge-reranker, jina-reranker, Qwen3-Reranker ...) is a reranker: it scores
query-document pairs, formatted by its ``rerank`` template when it has one, as
llama-server does, and makes no embeddings.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hoshikage_core.errors import ContextLengthExceededError, InvalidRequestError
from hoshikage_core.types import Embeddings, Relevance

from .options import LlamaCppOptions
from .repack import repack_is_safe

__all__ = ["EmbeddingContext", "declares_rank_pooling"]

RANK_POOLING = 4  # LLAMA_POOLING_TYPE_RANK, in GGUF's <arch>.pooling_type


def declared_pooling(path: Path) -> int | None:
    """The pooling the GGUF at ``path`` declares (``<arch>.pooling_type``), if any."""
    from hoshikage_core.kit.gguf import read_gguf_header

    declared = read_gguf_header(path).arch_value("pooling_type")
    return None if declared is None else int(declared)


def declares_rank_pooling(path: Path) -> bool:
    """Whether the GGUF at ``path`` is a reranker (it declares rank pooling)."""
    return declared_pooling(path) == RANK_POOLING

MAX_EMBEDDING_CONTEXT = 8192


class EmbeddingContext:
    def __init__(self, path: Path, options: LlamaCppOptions, threads: int) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._llama_cpp = llama_cpp
        n_ctx = min(options.n_ctx or MAX_EMBEDDING_CONTEXT, MAX_EMBEDDING_CONTEXT)
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = 0x7FFFFFFF if options.n_gpu_layers == -1 \
            else options.n_gpu_layers
        model_params.main_gpu = options.main_gpu
        self._tensor_split: Any = None
        if options.tensor_split is not None:
            self._tensor_split = (ctypes.c_float * llama_cpp.LLAMA_MAX_DEVICES)(
                *options.tensor_split)
            model_params.tensor_split = self._tensor_split
        model_params.load_mode = (llama_cpp.LLAMA_LOAD_MODE_MMAP if options.use_mmap
                                  else llama_cpp.LLAMA_LOAD_MODE_NONE)
        model_params.use_extra_bufts = (repack_is_safe(str(path)) if options.repack == "auto"
                                        else options.repack)
        self.model = _internals.LlamaModel(path_model=str(path), params=model_params,
                                           verbose=options.verbose)
        try:
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
            params.n_threads = params.n_threads_batch = threads
            params.embeddings = True
            params.pooling_type = self._pooling(llama_cpp, path)
            params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
                                      if options.flash_attn is True
                                      else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
            params.no_perf = True
            self.context = _internals.LlamaContext(model=self.model, params=params,
                                                   verbose=options.verbose)
            self.batch = _internals.LlamaBatch(n_tokens=n_ctx, embd=0, n_seq_max=1,
                                               verbose=options.verbose)
        except BaseException:
            self.model.close()
            raise
        self.pooling_type = int(params.pooling_type)
        self.n_ctx = n_ctx
        self._lock = threading.Lock()

    @staticmethod
    def _pooling(llama_cpp: Any, path: Path) -> int:
        declared = declared_pooling(path)
        if declared is not None and declared != llama_cpp.LLAMA_POOLING_TYPE_NONE:
            return declared
        return int(llama_cpp.LLAMA_POOLING_TYPE_MEAN)

    @property
    def ranks(self) -> bool:
        return self.pooling_type == self._llama_cpp.LLAMA_POOLING_TYPE_RANK

    def rank(self, query: str, documents: Sequence[str], model: str) -> Relevance:
        if not self.ranks:
            raise InvalidRequestError(
                f"Model '{model}' cannot rank documents: it is not a reranker (its GGUF "
                "declares no rank pooling, as bge-reranker, jina-reranker and Qwen3-Reranker "
                "do).", param="model")
        with self._lock:
            scores, total = [], 0
            for i, document in enumerate(documents):
                tokens = self._pair(query, document)
                if len(tokens) > self.n_ctx:
                    raise ContextLengthExceededError(len(tokens), self.n_ctx,
                                                     param=f"documents[{i}]")
                total += len(tokens)
                scores.append(self._decode(tokens)[0])
            return Relevance(scores=scores, prompt_tokens=total)

    def _pair(self, query: str, document: str) -> list[int]:
        """A query-document pair as the model reads it (llama-server's format)."""
        lib, model = self._llama_cpp, self.model
        template = lib.llama_model_chat_template(model.model, b"rerank")
        if template:
            prompt = template.decode("utf-8").replace("{query}", query) \
                .replace("{document}", document)
            return list(model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        vocab = lib.llama_model_get_vocab(model.model)
        eos = model.token_eos() if model.token_eos() >= 0 else model.token_sep()
        tokens = [model.token_bos()] if lib.llama_vocab_get_add_bos(vocab) else []
        tokens += model.tokenize(query.encode("utf-8"), add_bos=False, special=False)
        if lib.llama_vocab_get_add_eos(vocab):
            tokens.append(eos)
        if lib.llama_vocab_get_add_sep(vocab):
            tokens.append(model.token_sep())
        tokens += model.tokenize(document.encode("utf-8"), add_bos=False, special=False)
        if lib.llama_vocab_get_add_eos(vocab):
            tokens.append(eos)
        return tokens

    def embed(self, inputs: Sequence[str | Sequence[int]], model: str = "") -> Embeddings:
        if self.ranks:
            raise InvalidRequestError(f"Model '{model}' is a reranker: it scores documents "
                                      "(/v1/rerank) and makes no embeddings.", param="model")
        with self._lock:
            vectors, total = [], 0
            for i, item in enumerate(inputs):
                tokens = self._tokens(item, i)
                total += len(tokens)
                vectors.append(self._embed_one(tokens))
            return Embeddings(vectors=vectors, prompt_tokens=total)

    def _tokens(self, item: str | Sequence[int], index: int) -> list[int]:
        if isinstance(item, str):
            tokens = list(self.model.tokenize(item.encode("utf-8"), add_bos=True,
                                              special=False))
        else:
            tokens = [int(t) for t in item]
            n_vocab = self.model.n_vocab()
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
        vector = self._decode(tokens)
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]

    def _decode(self, tokens: list[int]) -> list[float]:
        """The pooled output for ``tokens`` (with rank pooling: the score first)."""
        lib, context, batch = self._llama_cpp, self.context, self.batch
        n_embd = self.model.n_embd()
        context.kv_cache_clear()
        batch.reset()
        batch.add_sequence(tokens, 0, True)
        context.decode(batch)
        if self.pooling_type == lib.LLAMA_POOLING_TYPE_NONE:
            pointer = lib.llama_get_embeddings(context.ctx)
            rows = [pointer[j * n_embd:(j + 1) * n_embd] for j in range(len(tokens))]
            vector = [sum(col) / len(rows) for col in zip(*rows)]
        elif self.ranks:
            vector = [float(lib.llama_get_embeddings_seq(context.ctx, 0)[0])]
        else:
            vector = list(lib.llama_get_embeddings_seq(context.ctx, 0)[:n_embd])
        batch.reset()
        return vector

    def close(self) -> None:
        with self._lock:
            self.batch.close()
            self.context.close()
            self.model.close()
