"""Write a tiny random-weight llama GGUF (about 0.5 MB) for fast tests.

It loads and generates (nonsense) in llama-cpp-python and in ctransformers.
Needs the ``gguf`` and ``numpy`` packages (``hoshikage[dev]``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_tiny_gguf"]

_SPECIAL = ["<unk>", "<s>", "</s>"]


def write_tiny_gguf(
    path: str | os.PathLike[str],
    *,
    n_layers: int = 2,
    n_embd: int = 64,
    n_heads: int = 4,
    n_ff: int = 128,
    context_length: int = 512,
    seed: int = 0,
    chat_template: str | None = None,
    extra_tokens: int = 0,
    fill_in_the_middle: bool = False,
    rank: bool = False,
) -> Path:
    """Write a llama-architecture GGUF with a tiny vocabulary to ``path``.

    The vocabulary is ``<unk>``, ``<s>``, ``</s>``, the 256 byte tokens (so any
    text tokenizes) and one token per printable ASCII character plus the word
    marker ``▁``. The character tokens matter: ctransformers sizes its token
    buffer by the text's length and overruns it (crashing later) when byte
    fallback makes more tokens than characters. Weights are random but fixed
    by ``seed``. ``fill_in_the_middle`` adds ``<fim_prefix>``, ``<fim_suffix>``
    and ``<fim_middle>`` tokens and names them in the metadata, as code models do.
    ``rank`` declares rank pooling, as rerankers' GGUFs do (the score is the first
    value of the last token's hidden state: random, but real llama.cpp rank pooling).
    """
    import gguf
    import numpy as np

    path = Path(path)
    rng = np.random.default_rng(seed)
    characters = ["\u2581", *(chr(c) for c in range(0x21, 0x7F))]
    tokens = _SPECIAL + [f"<0x{b:02X}>" for b in range(256)] + characters
    tokens += [f"<extra_{i}>" for i in range(extra_tokens)]
    fim = ["<fim_prefix>", "<fim_suffix>", "<fim_middle>"] if fill_in_the_middle else []
    tokens += fim
    n_vocab = len(tokens)
    token_types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    token_types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * len(characters)
    token_types += [gguf.TokenType.CONTROL] * (extra_tokens + len(fim))

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("hoshikage-tiny")
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(n_embd // n_heads)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types(token_types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    if rank:
        writer.add_pooling_type(gguf.PoolingType.RANK)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    if fim:
        first = n_vocab - len(fim)
        for key, offset in ((gguf.Keys.Tokenizer.FIM_PRE_ID, 0),
                            (gguf.Keys.Tokenizer.FIM_SUF_ID, 1),
                            (gguf.Keys.Tokenizer.FIM_MID_ID, 2)):
            writer.add_uint32(key, first + offset)

    def tensor(name: str, *shape: int) -> None:
        data = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        writer.add_tensor(name, data)

    def ones(name: str, n: int) -> None:
        writer.add_tensor(name, np.ones(n, dtype=np.float32))

    tensor("token_embd.weight", n_vocab, n_embd)
    for i in range(n_layers):
        ones(f"blk.{i}.attn_norm.weight", n_embd)
        tensor(f"blk.{i}.attn_q.weight", n_embd, n_embd)
        tensor(f"blk.{i}.attn_k.weight", n_embd, n_embd)
        tensor(f"blk.{i}.attn_v.weight", n_embd, n_embd)
        tensor(f"blk.{i}.attn_output.weight", n_embd, n_embd)
        ones(f"blk.{i}.ffn_norm.weight", n_embd)
        tensor(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        tensor(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        tensor(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    ones("output_norm.weight", n_embd)
    tensor("output.weight", n_vocab, n_embd)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
