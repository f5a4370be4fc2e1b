"""Ollama's request knobs: ``options`` (sampling), ``keep_alive``, ``think``, ``format``."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...config.durations import FOREVER, parse_duration
from ...errors import InvalidRequestError
from ...serving import ANY_OBJECT, Sampling, checked_schema

__all__ = ["IGNORED_OPTIONS", "Options", "Think", "answer_schema", "checked_think",
           "keep_alive_seconds", "think_fields"]

log = logging.getLogger(__name__)

IGNORED_OPTIONS = frozenset({
    # load-time: set per model in hoshikage.toml ([models.NAME.options]) instead
    "num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "numa", "low_vram",
    "f16_kv", "logits_all", "vocab_only", "use_mmap", "use_mlock", "embedding_only",
    "draft_num_predict",
    # samplers llama.cpp's Hoshikage backend does not offer
    "num_keep", "typical_p", "tfs_z", "repeat_last_n", "mirostat", "mirostat_tau",
    "mirostat_eta", "penalize_newline",
})
"""Options Ollama knows that Hoshikage accepts and ignores (logged at debug)."""

Think = bool | Literal["low", "medium", "high", "max"]
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high"}


def checked_think(value: object) -> object:
    """``think``: a boolean or a level, with one message for anything else."""
    if value is None or isinstance(value, bool) or value in EFFORTS:
        return value
    raise ValueError(f'expected true, false, "low", "medium", "high" or "max"; got {value!r}')


class Options(BaseModel):
    """``options``: the sampling fields Hoshikage honours. Lax about number types, as
    Ollama is (``"top_k": 40.0`` is 40); any other key is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    num_predict: int | None = Field(None, description="tokens to generate; -1, -2: no limit")
    temperature: float | None = Field(None, ge=0.0)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    seed: int | None = Field(None, description="a negative seed: random")
    stop: str | list[str] | None = None
    repeat_penalty: float | None = Field(None, ge=0.0)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def sampling(self, endpoint: str) -> Sampling:
        """These options as the services take them (ignored ones logged at debug)."""
        if self.model_extra:
            log.debug("%s: ignoring options %s", endpoint, sorted(self.model_extra))
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or ())
        return Sampling(
            max_tokens=self.num_predict if self.num_predict and self.num_predict > 0 else None,
            temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
            min_p=self.min_p, repeat_penalty=self.repeat_penalty,
            presence_penalty=self.presence_penalty, frequency_penalty=self.frequency_penalty,
            seed=self.seed if self.seed is not None and self.seed >= 0 else None,
            stop=tuple(s for s in stop if s))


def keep_alive_seconds(value: object) -> float | None:
    """Ollama's ``keep_alive`` in seconds: ``"5m"``, ``"1h30m"``, a number of seconds,
    ``0`` (unload right after), any negative number or duration (forever)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return FOREVER if value < 0 else float(value)
    if isinstance(value, str) and value.strip().startswith("-"):
        parse_duration(value.strip()[1:])  # a duration, negative: forever
        return FOREVER
    return parse_duration(value)


def think_fields(think: Think | None) -> dict[str, Any]:
    """``think`` as chat request fields: ``false`` turns thinking off, ``true`` on, and
    a level is a ``reasoning_effort``; left out, the model thinks as it does."""
    if think is None:
        return {}
    if think is False:
        return {"reasoning_effort": "none"}
    on: dict[str, Any] = {"chat_template_kwargs": {"enable_thinking": True}}
    if think is True:
        return on
    return {**on, "reasoning_effort": EFFORTS[think]}


def answer_schema(answer_format: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """``format``: ``"json"`` (any JSON object) or a JSON schema; ``""`` or none: text."""
    if answer_format is None or answer_format == "":
        return None
    if answer_format == "json":
        return ANY_OBJECT
    if isinstance(answer_format, dict):
        return checked_schema(answer_format, param="format")
    raise InvalidRequestError(f'format must be "json" or a JSON schema object; got '
                              f"{answer_format!r}", param="format")
