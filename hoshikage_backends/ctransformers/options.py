"""``[models.NAME.options]`` for ctransformers models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hoshikage_core.kit.options import BackendOptions
from hoshikage_core.kit.templates import NAMED_TEMPLATES

__all__ = ["CTransformersOptions"]

ModelType = Literal["llama", "gpt2", "gptj", "gpt_neox", "gptneox", "dolly-v2", "falcon", "mpt",
                    "starcoder", "gpt_bigcode", "gptbigcode", "replit"]


class CTransformersOptions(BackendOptions):
    model_type: ModelType | None = Field(None, description="default: read from the file")
    context_length: int | None = Field(None, ge=16, description="default: the model's own")
    threads: int | None = Field(None, ge=1, description="default: every usable core")
    batch_size: int = Field(8, ge=1)
    gpu_layers: int = Field(0, ge=0, description="layers on the GPU (CUDA builds only)")
    last_n_tokens: int = Field(64, ge=0, description="window of repeat_penalty")
    seed: int | None = Field(None, ge=0)
    chat_format: str = Field("chatml", description="named chat template (ctransformers has none)")
    chat_template: str | None = Field(None, min_length=1, description="a Jinja chat template")

    @model_validator(mode="after")
    def _known_format(self) -> CTransformersOptions:
        if self.chat_format not in NAMED_TEMPLATES:
            raise ValueError(f"chat_format: expected one of {', '.join(sorted(NAMED_TEMPLATES))}; "
                             f"got {self.chat_format!r}")
        return self
