"""What Ollama's listings say of a model, read without loading it: the file's size,
time and a digest, and its GGUF header's architecture, size, quantization, metadata
and chat template; and what a chat template shows (tools, thinking).

Reading a header takes a few tens of milliseconds, so each app keeps what it read
(:class:`FactsCache`, on ``app.state``), per file and while the file is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from ...kit.gguf import read_gguf_header
from ...kit.templates import NAMED_TEMPLATES

if TYPE_CHECKING:
    from ...kit.templates import ChatTemplate

__all__ = ["FactsCache", "FileFacts", "TemplateFacts", "TemplateText", "configured_template",
           "facts_cache", "read_facts"]

FILE_TYPES = {  # general.file_type: llama.cpp's file types, by the names Ollama shows
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4",
}
_SHOWN_ARRAY = 5  # longer arrays (vocabularies, merges) are shown empty, as Ollama does
_TEMPLATE_KEY = "tokenizer.chat_template"
_FIM_KEYS = ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id")


@dataclass(frozen=True)
class FileFacts:
    """One model file, as Ollama lists models."""

    size: int = 0
    modified: float = 0.0
    digest: str = ""
    architecture: str = ""
    parameter_size: str = ""
    quantization: str = ""
    context_length: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """The header's metadata without the name and chat templates (``model_info``)."""
    templates: dict[str, str] = field(default_factory=dict)
    """The GGUF's chat templates: ``""`` the default, others by name (``tool_use``)."""
    fill_in_the_middle: bool = False

    def details(self) -> dict[str, Any]:
        """Ollama's ``details``."""
        return {"parent_model": "", "format": "gguf" if self.architecture else "",
                "family": self.architecture,
                "families": [self.architecture] if self.architecture else None,
                "parameter_size": self.parameter_size,
                "quantization_level": self.quantization}


@dataclass(frozen=True)
class TemplateFacts:
    """What a chat template shows."""

    tools: bool
    thinking: bool


def _digest(path: Path, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(f"{path}\0{size}\0{mtime_ns}".encode()).hexdigest()


def read_facts(path: Path | None, name: str) -> FileFacts:
    """The facts of the file at ``path`` (blocking: run it in a worker thread). A file
    that is missing or not GGUF has only what ``stat`` tells, or nothing."""
    if path is None:
        return FileFacts(digest=hashlib.sha256(name.encode()).hexdigest())
    try:
        stat = os.stat(path)
    except OSError:
        return FileFacts(digest=hashlib.sha256(name.encode()).hexdigest())
    plain = FileFacts(size=stat.st_size, modified=stat.st_mtime,
                      digest=_digest(path, stat.st_size, stat.st_mtime_ns))
    try:
        header = read_gguf_header(path)
    except (ValueError, OSError, struct.error):  # not GGUF, or broken: say what stat says
        return plain
    meta = header.metadata
    shown: dict[str, Any] = {}
    for key, value in meta.items():
        if key == "general.name" or key.startswith(_TEMPLATE_KEY):
            continue
        long = isinstance(value, list) and len(value) > _SHOWN_ARRAY
        shown[key] = [] if long else value
    shown.update({key: [] for key in header.array_lengths if key not in meta})
    templates = {key.removeprefix(_TEMPLATE_KEY).lstrip("."): value
                 for key, value in meta.items()
                 if key.startswith(_TEMPLATE_KEY) and isinstance(value, str) and value}
    context = header.arch_value("context_length")
    file_type = meta.get("general.file_type")
    return FileFacts(
        size=plain.size, modified=plain.modified, digest=plain.digest,
        architecture=header.architecture,
        parameter_size=str(meta.get("general.size_label", "")),
        quantization=FILE_TYPES.get(file_type, "") if isinstance(file_type, int) else "",
        context_length=context if isinstance(context, int) else None,
        metadata=shown, templates=templates,
        fill_in_the_middle=any(key in meta for key in _FIM_KEYS))


@dataclass(frozen=True)
class TemplateText:
    """A chat template's source and its named variants' (``tool_use``)."""

    source: str
    variants: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, template: ChatTemplate) -> TemplateText:
        return cls(template.source, tuple(sorted(
            (name, variant.source) for name, variant in template.variants.items())))

    def learn(self) -> TemplateFacts:
        """Whether the template shows tools and thinking (blocking: renders probes)."""
        from ...kit.templates import ChatTemplate
        from ...serving.formats.harmony import is_harmony
        from ...serving.formats.reasoning import learn_reasoning

        variants = {name: ChatTemplate(source) for name, source in self.variants}
        template = ChatTemplate(self.source, variants=variants)
        return TemplateFacts(
            tools=template.for_tools(True).caps.tools,
            thinking=is_harmony(template) or learn_reasoning(template) is not None)


def configured_template(options: dict[str, Any], facts: FileFacts) -> TemplateText | None:
    """The template a model's chats would use, from its options (``chat_template``,
    ``chat_format``) or its GGUF, without loading it; None if neither has one."""
    source, named = options.get("chat_template"), options.get("chat_format")
    if isinstance(source, str) and source:
        return TemplateText(source)
    if isinstance(named, str) and named in NAMED_TEMPLATES:
        return TemplateText(NAMED_TEMPLATES[named].jinja)
    if not facts.templates.get(""):
        return None
    return TemplateText(facts.templates[""], tuple(sorted(
        (key, value) for key, value in facts.templates.items() if key)))


class FactsCache:
    """What one app read of model files (while unchanged) and learned of templates."""

    def __init__(self) -> None:
        self._files: dict[tuple[Path | None, str], tuple[tuple[int, int], FileFacts]] = {}
        self._templates: dict[TemplateText, TemplateFacts] = {}

    def file(self, path: Path | None, name: str) -> FileFacts:
        """:func:`read_facts`, again only if the file's size or time changed."""
        try:
            stat = os.stat(path) if path is not None else None
            key = (stat.st_size, stat.st_mtime_ns) if stat is not None else (0, 0)
        except OSError:
            key = (-1, -1)
        cached = self._files.get((path, name))
        if cached is not None and cached[0] == key:
            return cached[1]
        facts = read_facts(path, name)
        self._files[(path, name)] = (key, facts)
        return facts

    def template(self, text: TemplateText) -> TemplateFacts | None:
        """:meth:`TemplateText.learn`, once per template; None if it does not compile."""
        if text not in self._templates:
            try:
                self._templates[text] = text.learn()
            except ValueError:  # TemplateError: it does not compile
                return None
        return self._templates[text]


def facts_cache(request: Request) -> FactsCache:
    """The app's :class:`FactsCache` (made at its first use)."""
    state = request.app.state
    cache: FactsCache | None = getattr(state, "ollama_facts", None)
    if cache is None:
        cache = state.ollama_facts = FactsCache()
    return cache
