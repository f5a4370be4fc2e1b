"""The front end's engine: the same API as one process, with each model's work sent
to its replicas on Ray Serve (``[cluster] engine = "ray"``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

from hoshikage_core.config.schema import EffectiveModelSettings, HoshikageConfig, ModelConfig
from hoshikage_core.engines import EngineContext
from hoshikage_core.errors import (
    BackendUnavailableError,
    HoshikageError,
    InvalidRequestError,
    ModelNotFoundError,
)
from hoshikage_core.lifecycle import LoadEvent, LoadListener, ModelInfo, ModelState
from hoshikage_core.lifecycle.defaults import with_model_defaults
from hoshikage_core.lifecycle.metering import metered
from hoshikage_core.lifecycle.progress import LoadWatchers
from hoshikage_core.lifecycle.reload import ModelChanges
from hoshikage_core.plugins.capabilities import Capabilities
from hoshikage_core.types import Chunk, GenerationRequest

from .rollout import POLL_SECONDS, Rollout
from .status import model_info
from .units import Unit, units_of
from .wire import ReplicaFailedError, from_ray

__all__ = ["ClusterEngine"]

log = logging.getLogger(__name__)

T = TypeVar("T")

RESENDS = 2  # times a request whose replica died before answering is sent again


@dataclass(eq=False)
class ClusterModel:
    """One configured model as the front end knows it."""

    name: str
    config: ModelConfig
    settings: EffectiveModelSettings
    unit: Unit
    in_flight: int = 0  # requests the front end sent and has not seen end
    last_used: float | None = None  # wall clock
    chat_template: Any = None


class ClusterEngine:
    """Runs a Hoshikage's models as Ray Serve deployments and answers for them."""

    def __init__(self, context: EngineContext) -> None:
        config = self.config = context.config
        self.plugins, self.metrics, self.executor = (context.plugins, context.metrics,
                                                     context.executor)
        units = units_of(config)
        self.units = {unit.name: unit for unit in units}
        unit_of = {model: unit for unit in units for model in unit.models}
        self.models = {name: ClusterModel(name, model, config.effective(name), unit_of[name])
                       for name, model in config.models.items()}
        self._names = config.names()
        self.rollout = Rollout(config, units, context.executor)
        self.deployments = self.rollout.deployments
        self._watchers = LoadWatchers()

    # -- lookup ----------------------------------------------------------------

    def get(self, name_or_alias: str) -> ClusterModel:
        name = self._names.get(name_or_alias)
        if name is None:
            raise ModelNotFoundError(name_or_alias, available=list(self.models))
        return self.models[name]

    def capabilities(self, name_or_alias: str) -> Capabilities:
        """The backend's hooks and fields, as this process's plugins say; whether the
        backend can run is for the replicas (their nodes have the GPUs and libraries)."""
        model = self.get(name_or_alias)
        capabilities = self.plugins.capabilities(model.config.backend)
        if capabilities is None:
            raise BackendUnavailableError(
                f"Model '{model.name}' needs the '{model.config.backend}' backend, which is "
                "not installed where Hoshikage's front end runs.")
        return capabilities

    def infos(self) -> list[ModelInfo]:
        return [self._info(m) for m in self.models.values()]

    def info(self, name_or_alias: str) -> ModelInfo:
        return self._info(self.get(name_or_alias))

    def _info(self, model: ClusterModel) -> ModelInfo:
        deployment = self.deployments[model.unit.name]
        return model_info(model, deployment.reports, deployment.error)

    def watch_loads(self, listener: LoadListener) -> Callable[[], None]:
        return self._watchers.add(listener)

    # -- work ------------------------------------------------------------------

    async def generate(self, request: GenerationRequest, *,
                       keep_alive: float | None = None) -> AsyncGenerator[Chunk, None]:
        """One generation on a replica of the model, streamed end to end."""
        model = self.get(request.model)
        request = with_model_defaults(request, model)  # type: ignore[arg-type]
        self.capabilities(model.name).refuse_unsupported(request, model=model.name)
        handle = await self._handle(model)
        model.in_flight += 1
        started = time.perf_counter()
        try:
            async with aclosing(metered(self._relay(handle, request, keep_alive, model),
                                        self.metrics, model.name, started)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            model.in_flight -= 1
            model.last_used = time.time()

    async def _relay(self, handle: Any, request: GenerationRequest, keep_alive: float | None,
                     model: ClusterModel) -> AsyncIterator[Chunk]:
        """The replica's chunks. A replica that died before sending anything (a node
        just lost, before Ray's router knows) costs nothing to ask again: the request is
        sent again, up to ``RESENDS`` times; once chunks flowed, the failure is the
        client's to see (a 502 ``replica_failed``)."""
        deployment = self.deployments[model.unit.name]
        for attempt in range(RESENDS + 1):
            responses = handle.options(stream=True).generate.remote(request, keep_alive)
            sent, finished = False, False
            chunks = responses.__aiter__()
            try:
                try:
                    chunk = await deployment.unless_unplaceable(chunks.__anext__())
                except StopAsyncIteration:
                    return
                while True:
                    sent, finished = True, chunk.is_final
                    yield chunk
                    try:
                        chunk = await chunks.__anext__()
                    except StopAsyncIteration:
                        return
            except Exception as exc:
                if self._resend_or_raise(exc, model, resend=not sent and attempt < RESENDS):
                    continue
            finally:
                if not finished:  # the client left (or it failed): the replica stops
                    try:
                        responses.cancel()
                    except Exception:  # it never reached a replica
                        pass

    async def use(self, name_or_alias: str, work: Callable[..., T], *,
                  keep_alive: float | None = None) -> T:
        model = self.get(name_or_alias)
        result: T = await self._call(model, "use", model.name, work, keep_alive)
        return result

    async def chat_template(self, name_or_alias: str) -> Any:
        model = self.get(name_or_alias)
        if not self.capabilities(model.name).has("hoshikage_chat_template"):
            return None
        if model.chat_template is None:  # one replica's; every replica has the same file
            model.chat_template = await self._call(model, "chat_template", model.name)
        return model.chat_template

    async def load(self, name_or_alias: str, *, keep_alive: float | None = None) -> ModelInfo:
        """Load on a replica (starting one if the model has none)."""
        model = self.get(name_or_alias)
        self._watchers.emit(LoadEvent(model.name, ModelState.LOADING, None))
        try:
            await self._call(model, "load", model.name, keep_alive)
        except HoshikageError as exc:
            self._watchers.emit(LoadEvent(model.name, ModelState.FAILED, None, exc.message))
            raise
        self._watchers.emit(LoadEvent(model.name, ModelState.READY, 1.0))
        await self.rollout.refresh()
        return self._info(model)

    async def unload(self, name_or_alias: str) -> ModelInfo:
        """Unload from every replica once its running requests end (the replicas
        stay, ready to load it again; with ``min_replicas = 0`` Ray removes them)."""
        model = self.get(name_or_alias)
        if self.rollout.board is not None:
            await self.rollout.board.unload.remote(model.name)
            deadline = time.monotonic() + self.config.server.shutdown_timeout + 10
            while time.monotonic() < deadline:  # its running requests finish first
                await self.rollout.refresh()
                if self._info(model).state in (ModelState.UNLOADED, ModelState.FAILED):
                    break
                await asyncio.sleep(POLL_SECONDS)
        return self._info(model)

    def pin(self, name_or_alias: str, pinned: bool = True) -> ModelInfo:
        """Pinning on a cluster is each replica's config (``pinned = true``), which its
        local Hoshikage keeps; changing it while running is not offered here."""
        model = self.get(name_or_alias)
        raise InvalidRequestError(
            f"Model '{model.name}' runs on the Ray cluster: set pinned = true in its "
            "[models.NAME] table instead (each replica then keeps it loaded).")

    async def reload(self, config: HoshikageConfig,
                     options: Mapping[str, Any] | None = None) -> ModelChanges:
        """A cluster's deployments follow the config they started with; a reload is
        refused (nothing changes) until rolling redeploys are offered here."""
        raise InvalidRequestError(
            "Reloading the config is not offered on the Ray cluster engine yet: restart "
            "`hoshikage run` to apply it (each model's replicas then roll over).")

    async def _call(self, model: ClusterModel, method: str, *args: Any) -> Any:
        handle = await self._handle(model)
        deployment = self.deployments[model.unit.name]
        for attempt in range(RESENDS + 1):
            try:
                return await deployment.unless_unplaceable(getattr(handle, method).remote(*args))
            except Exception as exc:
                self._resend_or_raise(exc, model, resend=attempt < RESENDS)
        raise AssertionError("unreachable")

    def _resend_or_raise(self, exc: Exception, model: ClusterModel, *, resend: bool) -> bool:
        """For an exception a call to a replica raised: True to send the call again (a
        replica that died before answering, and ``resend`` allows it); else raise what
        the client should see."""
        mapped = from_ray(exc, model.name)
        if mapped is None:
            raise exc
        if resend and isinstance(mapped, ReplicaFailedError):
            log.info("%s: a replica failed before answering (%s); sending again",
                     model.name, type(exc).__name__)
            return True
        raise mapped from None

    async def _handle(self, model: ClusterModel) -> Any:
        """The handle to the model's replicas, once its deployment is up."""
        await self.rollout.start()
        deployment = self.deployments[model.unit.name]
        assert deployment.ready is not None
        await deployment.unless_unplaceable(asyncio.shield(deployment.ready))
        if model.unit.pooled:
            return deployment.handle.options(multiplexed_model_id=model.name)
        return deployment.handle

    # -- deploying (see .rollout) ------------------------------------------------

    async def start(self) -> None:
        """Join the cluster and deploy every unit (requests wait for their own)."""
        await self.rollout.start()

    async def settle(self) -> None:
        """Nothing loads in this process."""

    async def close(self, timeout: float = 30.0) -> None:
        """Remove what this front end deployed (not what Ray's tools deployed)."""
        await self.rollout.close(timeout)
