"""One configured model's runtime record, and its public snapshot."""

from __future__ import annotations

import asyncio
import enum
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..config.schema import EffectiveModelSettings, ModelConfig
from ..discovery.origin import CONFIGURED, ModelOrigin
from ..errors import HoshikageError
from ..types import ModelSpec

__all__ = ["ManagedModel", "ModelInfo", "ModelState", "Replacement", "ReplicaInfo",
           "UnloadReason", "Waiter"]


class ModelState(str, enum.Enum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    UNLOADING = "unloading"
    FAILED = "failed"


class UnloadReason(str, enum.Enum):
    """Why a model was unloaded (the ``reason`` label of the unloads metric)."""

    IDLE = "idle"  # its idle timeout (or a request's keep_alive) passed
    EVICTED = "evicted"  # another model needed the room
    REQUESTED = "requested"  # the admin API or the CLI asked
    SHUTDOWN = "shutdown"  # the server is stopping
    RELOADED = "reloaded"  # a config reload changed or removed it

    def describe(self) -> str:
        return {"idle": "idle timeout", "evicted": "making room", "requested":
                "unload requested", "shutdown": "shutdown",
                "reloaded": "changed or removed by a config reload"}[self.value]


@dataclass(frozen=True)
class ReplicaInfo:
    """One replica of a model on a cluster engine (``[cluster] engine = "ray"``)."""

    id: str
    state: str  # the model's state in that replica: "ready", "loading", "unloaded", ...
    node_id: str | None = None
    pid: int | None = None
    running: int = 0
    queued: int = 0
    models: tuple[str, ...] = ()
    """In a shared pool: the models this replica holds now."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "node_id": self.node_id, "pid": self.pid,
                "running": self.running, "queued": self.queued, "models": list(self.models)}


@dataclass(frozen=True)
class ModelInfo:
    """A snapshot of one model, for listings and the admin API.

    Times are wall-clock seconds since the epoch.
    """

    id: str
    backend: str
    aliases: tuple[str, ...]
    state: ModelState
    path: str | None
    error: str | None = None
    load_seconds: float | None = None
    memory_bytes: int | None = None
    last_used: float | None = None
    expires_at: float | None = None
    running: int = 0
    queued: int = 0
    load_progress: float | None = None
    """While ``loading``: the fraction done (0.0-1.0), if the backend reports it."""
    replicas: tuple[ReplicaInfo, ...] | None = None
    """On a cluster engine: the model's replicas; None in a single process."""
    pinned: bool = False
    origin: ModelOrigin = CONFIGURED
    """Where it came from: a ``[models.*]`` table or a discovered file."""
    removed: bool = False
    """A config reload removed it: it finishes its requests, then unloads and is gone."""

    def to_dict(self) -> dict[str, Any]:
        replicas = {} if self.replicas is None else {
            "replicas": [r.to_dict() for r in self.replicas]}
        return {
            "id": self.id,
            "backend": self.backend,
            "state": self.state.value,
            "aliases": list(self.aliases),
            "memory_bytes": self.memory_bytes,
            "last_used": self.last_used,
            "expires_at": self.expires_at,
            "running": self.running,
            "queued": self.queued,
            "load_seconds": self.load_seconds,
            "load_progress": self.load_progress,
            "error": self.error,
            "pinned": self.pinned,
            "path": self.path,
            "origin": self.origin.to_dict(),
            "removed": self.removed,
            **replicas,
        }


@dataclass(frozen=True)
class Replacement:
    """A model's new settings from a config reload, taken once its weights are unloaded."""

    config: ModelConfig
    settings: EffectiveModelSettings
    spec: ModelSpec
    origin: ModelOrigin


@dataclass(eq=False)
class Waiter:
    """A request waiting for a slot on a model."""

    future: asyncio.Future[None]
    order: int  # global arrival order, for fairness between models


class ManagedModel:
    """Runtime state of one configured model. Mutated only on the event loop."""

    def __init__(self, name: str, config: ModelConfig, settings: EffectiveModelSettings,
                 spec: ModelSpec, origin: ModelOrigin = CONFIGURED) -> None:
        """``spec``: what the backend's hooks receive (options as its
        ``hoshikage_validate_options`` made them)."""
        self.name = name
        self.config = config
        self.settings = settings
        self.spec = spec
        self.origin = origin
        self.replacement: Replacement | None = None  # taken once unloaded
        self.removed = False  # by a config reload: drains, unloads, then leaves the pool
        self.file_stamp: tuple[int, int] | None = None  # (size, mtime) of path at the last load
        self.state = ModelState.UNLOADED
        self.handle: Any = None
        self.error: str | None = None
        self.failure: HoshikageError | None = None  # what the last failed load answered
        self.failures = 0
        self.retry_at = 0.0  # monotonic; a failed model is retried from then on
        self.load_seconds: float | None = None
        self.load_progress: float | None = None  # while loading, if the backend reports it
        self.progress_logged_at = 0.0  # monotonic
        self.memory_bytes: int | None = None
        self.running = 0
        self.queue: deque[Waiter] = deque()
        self.last_used: float | None = None  # monotonic
        self.expires_at: float | None = None  # monotonic; None = not idle or never
        self.unload_requested = False
        self.served_while_others_wait = 0
        self.average_seconds = 5.0  # of a request, for Retry-After
        self.unloaded = asyncio.Event()
        self.unloaded.set()
        self.estimating: asyncio.Future[int | None] | None = None
        self.chat_template: Any = None  # the backend's, learned at the first load
        self.pinned = config.pinned  # never unloaded by the idle timer or to make room

    def configure(self, config: ModelConfig, settings: EffectiveModelSettings,
                  origin: ModelOrigin) -> None:
        """New settings that leave the weights as they are (a reload changed aliases,
        sampling defaults, limits or timers); ``pinned`` follows the config if it changed."""
        if config.pinned != self.config.pinned:
            self.pinned = config.pinned
        self.config, self.settings, self.origin = config, settings, origin

    def take_replacement(self) -> None:
        """Become the model a reload described (called while unloaded)."""
        new, self.replacement = self.replacement, None
        assert new is not None
        self.configure(new.config, new.settings, new.origin)
        self.spec = new.spec
        self.state, self.error, self.failure, self.failures = ModelState.UNLOADED, None, None, 0
        self.memory_bytes, self.estimating, self.chat_template = None, None, None

    def fail_waiters(self, error: BaseException) -> None:
        """Every request waiting for a slot on this model gets ``error``."""
        while self.queue:
            waiter = self.queue.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(error)

    def enqueue(self, waiter: Waiter) -> None:
        """Add ``waiter`` in arrival order (it may have arrived before others queued)."""
        index = len(self.queue)
        while index > 0 and self.queue[index - 1].order > waiter.order:
            index -= 1
        self.queue.insert(index, waiter)

    @property
    def capacity(self) -> int:
        """Requests the model takes at once, running or waiting, in every state."""
        return self.settings.parallel + self.settings.max_queue

    @property
    def holds_memory(self) -> bool:
        return self.state in (ModelState.LOADING, ModelState.READY, ModelState.UNLOADING)

    @property
    def is_idle(self) -> bool:
        return self.state is ModelState.READY and self.running == 0 and not self.queue

    @property
    def free_slots(self) -> int:
        return self.settings.parallel - self.running

    def oldest_waiter(self) -> int:
        return self.queue[0].order if self.queue else math.inf  # type: ignore[return-value]

    def mark_idle(self, now: float, keep_alive: float | None = None) -> None:
        """The last request ended: start the idle clock, for that request's own
        ``keep_alive`` if it sent one, else for the model's ``idle_timeout``."""
        timeout = self.settings.idle_timeout if keep_alive is None else keep_alive
        self.expires_at = None if self.pinned or math.isinf(timeout) else now + timeout

    def info(self, monotonic_now: float, wall_now: float) -> ModelInfo:
        def wall(t: float | None) -> float | None:
            return None if t is None else round(wall_now + (t - monotonic_now), 3)

        return ModelInfo(
            id=self.name,
            backend=self.config.backend,
            aliases=tuple(self.config.aliases),
            state=self.state,
            path=str(self.config.path) if self.config.path else None,
            error=self.error,
            load_seconds=self.load_seconds,
            memory_bytes=self.memory_bytes,
            last_used=wall(self.last_used),
            expires_at=wall(self.expires_at) if self.is_idle else None,
            running=self.running,
            queued=len(self.queue),
            load_progress=self.load_progress if self.state is ModelState.LOADING else None,
            pinned=self.pinned,
            origin=self.origin,
            removed=self.removed,
        )
