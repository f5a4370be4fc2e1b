"""How much memory a llama.cpp model will take, from its GGUF header and options.

Weights (the tensor data, mapped from the file) + KV cache (context length x
layers x KV heads x head size x cache type) + the compute buffer llama.cpp
reserves (logits for one micro-batch, or attention scores when they are larger
and flash attention is off) + the host-memory prompt cache at its bound. It
matches what llama.cpp allocates, so it errs high compared with the resident
memory actually touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hoshikage_core.kit.gguf import read_gguf_header

from .options import LlamaCppOptions

__all__ = ["MemoryEstimate", "estimate_memory"]

# bytes per element of each KV cache type (block types: block bytes / 32 elements)
_KV_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32,
             "q4_1": 20 / 32, "iq4_nl": 18 / 32, "q5_0": 22 / 32, "q5_1": 24 / 32}
_UBATCH = 512  # llama-cpp-python's n_ubatch
_OVERHEAD = 4 * 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    compute: int
    prompt_cache: int = 0  # the bound of the host-memory cache (it fills up to it)

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.prompt_cache


def _per_layer(value: object, n_layers: int) -> list[int]:
    if isinstance(value, list):
        return [int(v) for v in value][:n_layers]
    return [int(value or 0)] * n_layers  # type: ignore[call-overload]


def estimate_memory(path: Path, options: LlamaCppOptions, parallel: int = 1) -> MemoryEstimate:
    """Estimate the bytes a model needs once loaded with ``options``, with KV cells
    for ``parallel`` sequences of ``n_ctx`` tokens."""
    header = read_gguf_header(path)
    n_layers = int(header.arch_value("block_count", 0) or 0)
    n_embd = int(header.arch_value("embedding_length", 0) or 0)
    n_head = max(_per_layer(header.arch_value("attention.head_count", 1), max(n_layers, 1)))
    n_head = max(n_head, 1)
    head_kv = _per_layer(header.arch_value("attention.head_count_kv", n_head), n_layers)
    key_dim = int(header.arch_value("attention.key_length", n_embd // n_head) or 0)
    value_dim = int(header.arch_value("attention.value_length", n_embd // n_head) or 0)
    n_ctx = options.n_ctx or int(header.arch_value("context_length", 4096) or 4096)
    k_bytes = _KV_BYTES[options.type_k or "f16"]
    v_bytes = _KV_BYTES[options.type_v or "f16"]
    kv = int(parallel * n_ctx * sum(h * (key_dim * k_bytes + value_dim * v_bytes)
                                    for h in head_kv))

    n_vocab = int(header.arch_value("vocab_size", 0) or
                  header.array_lengths.get("tokenizer.ggml.tokens", 0) or 0)
    ubatch = min(options.n_batch, _UBATCH)
    scores = 0 if options.flash_attn is True else parallel * n_ctx * n_head  # auto: may be off
    compute = max(n_vocab, scores) * ubatch * 4 + _OVERHEAD
    return MemoryEstimate(weights=header.tensor_bytes, kv_cache=kv, compute=compute,
                          prompt_cache=options.prompt_cache)
