"""``[models.NAME.options]`` for llamacpp models, validated without importing llama_cpp."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hoshikage_core.kit.options import BackendOptions, ByteSize
from hoshikage_core.kit.templates import NAMED_TEMPLATES

__all__ = ["KV_CACHE_TYPES", "LlamaCppOptions"]

KVCacheType = Literal["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"]
KV_CACHE_TYPES: dict[str, str] = {  # option value -> llama_cpp constant name
    "f32": "GGML_TYPE_F32", "f16": "GGML_TYPE_F16", "bf16": "GGML_TYPE_BF16",
    "q8_0": "GGML_TYPE_Q8_0", "q4_0": "GGML_TYPE_Q4_0", "q4_1": "GGML_TYPE_Q4_1",
    "iq4_nl": "GGML_TYPE_IQ4_NL", "q5_0": "GGML_TYPE_Q5_0", "q5_1": "GGML_TYPE_Q5_1",
}


class LlamaCppOptions(BackendOptions):
    """Options passed to ``llama_cpp.Llama``; see docs/configuration.md."""

    n_ctx: int = Field(4096, ge=0, description="context window in tokens; 0 = the model's own")
    n_threads: int | None = Field(None, ge=1, description="decode threads; default: all cores")
    n_threads_batch: int | None = Field(None, ge=1, description="prompt threads; default: all")
    n_batch: int = Field(512, ge=1, description="prompt tokens evaluated per step")
    n_gpu_layers: int = Field(-1, ge=-1, description="layers offloaded to GPU; -1 = all")
    main_gpu: int = Field(0, ge=0)
    tensor_split: list[float] | None = Field(None, min_length=1)
    flash_attn: bool | Literal["auto"] = Field(
        "auto", description="flash attention: true, false, or auto (llama.cpp decides)")
    type_k: KVCacheType | None = None
    type_v: KVCacheType | None = None
    repack: bool | Literal["auto"] = Field(
        "auto", description="llama.cpp's repacked CPU weight layouts (AMX, AVX-512): true, "
        "false, or auto (on, unless this CPU's AMX faults, as in some VMs)")
    use_mmap: bool = True
    use_mlock: bool = False
    prompt_cache: ByteSize = Field(
        2 * 2**30, ge=0, description="host memory for prompts evicted from the KV cache "
        "(restored when a prompt continues one); 0 = off")
    speculation: Literal["ngram", "off"] = Field(
        "ngram", description="speculative decoding: ngram drafts tokens from the prompt and "
        "answer so far (output unchanged); off decodes one token per step")
    draft_max: int = Field(16, ge=1, le=64, description="most draft tokens per step")
    draft_min: int = Field(0, ge=0, le=64, description="fewest draft tokens per step when "
                           "the n-grams offer a draft (0: only as many as pay off)")
    seed: int | None = Field(None, ge=0, description="default sampling seed; None = random")
    chat_format: str | None = Field(None, description="a named template instead of the GGUF's")
    chat_template: str | None = Field(None, min_length=1, description="a Jinja chat template")
    verbose: bool = Field(False, description="let llama.cpp log to stderr")

    @model_validator(mode="after")
    def _consistent(self) -> LlamaCppOptions:
        if self.chat_format is not None and self.chat_format not in NAMED_TEMPLATES:
            raise ValueError(
                f"chat_format: expected one of {', '.join(sorted(NAMED_TEMPLATES))}; "
                f"got {self.chat_format!r} (or leave it out to use the GGUF's own template)"
            )
        if self.chat_format is not None and self.chat_template is not None:
            raise ValueError("set chat_format or chat_template, not both")
        if self.type_v not in (None, "f16", "f32", "bf16") and self.flash_attn is False:
            raise ValueError(
                f"type_v = {self.type_v!r}: a quantized V cache needs flash_attn = true"
            )
        if self.draft_min > self.draft_max:
            raise ValueError(f"draft_min = {self.draft_min} is more than draft_max = "
                             f"{self.draft_max}")
        if self.tensor_split is not None and any(x < 0 for x in self.tensor_split):
            raise ValueError("tensor_split: expected non-negative proportions")
        return self
