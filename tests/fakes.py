"""A scriptable in-process backend for unit tests of the core (not a feature proof)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from hoshikage_core import Chunk, GenerationRequest, ModelSpec, Usage, hookimpl
from hoshikage_core.errors import ContextLengthExceededError
from hoshikage_core.kit.fields import ALL_FIELDS
from hoshikage_core.types import Embeddings, LoadProgress


@dataclass
class EchoHandle:
    name: str
    closed_generations: int = 0


@dataclass(eq=False)  # plugins must be hashable
class EchoBackend:
    """Echoes the prompt (or last message) back word by word.

    ``fail_load`` names models whose load raises; ``fail_after`` makes a
    generation raise after that many chunks; ``gate`` blocks each chunk until
    set; ``load_gate`` blocks every load until set; ``turnstile`` (a semaphore)
    must be released once per generation before it finishes, so a test decides
    which request ends when.
    ``options["memory"]`` is the model's memory estimate. Its load takes no
    ``progress`` argument: see :class:`ProgressBackend` for one that does.
    """

    fail_load: set[str] = field(default_factory=set)
    fail_after: int | None = None
    gate: threading.Event | None = None
    loads: list[str] = field(default_factory=list)
    unloads: list[str] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)
    handles: list[EchoHandle] = field(default_factory=list)
    requests: list[GenerationRequest] = field(default_factory=list)
    turnstile: threading.Semaphore | None = None
    fail_unload: bool = False
    unload_gate: threading.Event | None = None
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    load_progress: tuple[float, ...] = ()
    load_gates: list[threading.Event] = field(default_factory=list)
    load_gate: threading.Event | None = None

    @hookimpl
    def hoshikage_supported_fields(self) -> frozenset[str]:
        return ALL_FIELDS  # it records requests, so plumbing tests see every field

    @hookimpl
    def hoshikage_estimate_memory(self, model: ModelSpec) -> int | None:
        memory = model.options.get("memory")
        return int(memory) if memory is not None else None

    @hookimpl
    def hoshikage_load(self, model: ModelSpec) -> EchoHandle:
        self.threads.add(threading.current_thread().name)
        if self.load_gate is not None:
            self.load_gate.wait(timeout=30)
        if model.name in self.fail_load:
            raise RuntimeError(f"cannot load {model.name}: file is corrupt")
        return self._loaded(model)

    def _loaded(self, model: ModelSpec) -> EchoHandle:
        self.loads.append(model.name)
        handle = EchoHandle(model.name)
        self.handles.append(handle)
        return handle

    @hookimpl
    def hoshikage_generate(self, handle: EchoHandle, request: GenerationRequest) -> Iterator[Chunk]:
        self.requests.append(request)
        return self._generate(handle, request)

    def _generate(self, handle: EchoHandle, request: GenerationRequest) -> Iterator[Chunk]:
        self.threads.add(threading.current_thread().name)
        if request.prompt_tokens is not None:
            text = " ".join(str(t) for t in request.prompt_tokens)
        else:
            text = request.prompt if request.prompt is not None else request.messages[-1].content
        words = text.split()
        if len(words) > 50:
            raise ContextLengthExceededError(len(words), 50)
        limit = request.max_tokens or len(words)
        sent = 0
        self.started.append(text)
        try:
            for i, word in enumerate(words[:limit]):
                if self.gate is not None:
                    self.gate.wait(timeout=30)
                if self.fail_after is not None and i >= self.fail_after:
                    raise RuntimeError("backend exploded mid-stream")
                sent += 1
                yield Chunk(text=word if i == 0 else f" {word}")
            if self.turnstile is not None:
                self.turnstile.acquire()
            self.finished.append(text)
            reason = "length" if limit < len(words) else "stop"
            yield Chunk(finish_reason=reason, usage=Usage(len(words), sent))
        finally:
            handle.closed_generations += 1

    @hookimpl
    def hoshikage_unload(self, handle: EchoHandle) -> None:
        if self.unload_gate is not None:
            self.unload_gate.wait(timeout=30)
        self.unloads.append(handle.name)
        if self.fail_unload:
            raise RuntimeError("unload blew up")


@dataclass(eq=False)
class EchoWithExtras(EchoBackend):
    """EchoBackend plus embeddings and a word-level tokenizer."""

    @hookimpl
    def hoshikage_embed(self, handle: EchoHandle, inputs: list[object]) -> Embeddings:
        vectors = [[float(len(str(item))), 1.0, 0.0] for item in inputs]
        return Embeddings(vectors=vectors, prompt_tokens=sum(len(str(i).split()) for i in inputs))

    @hookimpl
    def hoshikage_tokenize(self, handle: EchoHandle, text: str, add_special: bool) -> list[int]:
        return ([1] if add_special else []) + [len(word) for word in text.split()]

    @hookimpl
    def hoshikage_detokenize(self, handle: EchoHandle, tokens: list[int]) -> str:
        return " ".join("x" * t for t in tokens)


@dataclass(eq=False)
class ProgressBackend(EchoBackend):
    """EchoBackend whose load reports ``load_progress`` step by step; before step
    ``i`` it waits for ``load_gates[i]`` when there is one."""

    @hookimpl
    def hoshikage_load(self, model: ModelSpec, progress: LoadProgress) -> EchoHandle:
        for i, fraction in enumerate(self.load_progress):
            if i < len(self.load_gates):
                self.load_gates[i].wait(timeout=30)
            progress(fraction)
        if model.name in self.fail_load:
            raise RuntimeError(f"cannot load {model.name}: file is corrupt")
        return self._loaded(model)
