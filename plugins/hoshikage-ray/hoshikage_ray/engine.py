"""The front end's engine: the same API as one process, with each model's work sent
to its replicas on Ray Serve (``[cluster] engine = "ray"``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hoshikage_core.config.schema import EffectiveModelSettings, ModelConfig
from hoshikage_core.engines import EngineContext
from hoshikage_core.errors import BackendUnavailableError, HoshikageError, ModelNotFoundError
from hoshikage_core.lifecycle import LoadEvent, LoadListener, ModelInfo, ModelState
from hoshikage_core.lifecycle.defaults import with_model_defaults
from hoshikage_core.lifecycle.metering import metered
from hoshikage_core.lifecycle.progress import LoadWatchers
from hoshikage_core.plugins.capabilities import Capabilities
from hoshikage_core.types import Chunk, GenerationRequest

from .board import board_actor
from .connect import connect, in_serve_replica
from .status import model_info
from .units import Unit, units_of
from .wire import ReplicaFailedError, from_ray

__all__ = ["ClusterEngine"]

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 0.5  # how often the front end reads the replica board
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
    error: str | None = None


@dataclass
class Deployment:
    """One unit on the cluster: its Serve application and the handle to its replicas."""

    app: str
    ready: asyncio.Future[Any] | None = None
    handle: Any = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    waiting: int = 0  # requests sent that no replica has started answering yet
    unplaceable: asyncio.Future[None] | None = None
    """Fails (503) when Ray reports it cannot place a replica (no node has the CPUs or
    GPUs asked for): then waiting requests end instead of waiting for ever."""

    async def unless_unplaceable(self, work: Any) -> Any:
        """``await work``, unless Ray cannot place a replica to do it first."""
        if self.unplaceable is None or self.unplaceable.done():
            self.unplaceable = asyncio.get_running_loop().create_future()
        self.waiting += 1
        job = asyncio.ensure_future(work)
        try:
            await asyncio.wait({job, self.unplaceable}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.waiting -= 1
        if not job.done():
            job.cancel()
            self.unplaceable.result()  # raises why
        return job.result()


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
        self._names = {alias: name for name, model in config.models.items()
                       for alias in (name, *model.aliases)}
        prefix = config.cluster.name
        self.board_name = f"{prefix}-board"
        self.deployments = {unit.name: Deployment(f"{prefix}-{unit.name}")
                            for unit in units}
        self._watchers = LoadWatchers()
        self._board: Any = None
        self._attached: str | None = None  # the Serve app we run in (build_app)
        self._connection: str | None = None  # what connect() did
        self._starting: asyncio.Future[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._closed = False
        self._loop: Any = None  # the event loop start() ran on

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
        return model_info(model, self.deployments[model.unit.name].reports)

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
                mapped = from_ray(exc, model.name)
                if mapped is None:
                    raise
                if not sent and attempt < RESENDS and isinstance(mapped, ReplicaFailedError):
                    log.info("%s: a replica failed before answering (%s); sending again",
                             model.name, type(exc).__name__)
                    continue
                raise mapped from None
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
        await self._refresh()
        return self._info(model)

    async def unload(self, name_or_alias: str) -> ModelInfo:
        """Unload from every replica once its running requests end (the replicas
        stay, ready to load it again; with ``min_replicas = 0`` Ray removes them)."""
        model = self.get(name_or_alias)
        if self._board is not None:
            await self._board.unload.remote(model.name)
            for _ in range(int(self.config.server.shutdown_timeout / POLL_SECONDS) + 20):
                await self._refresh()
                if self._info(model).state in (ModelState.UNLOADED, ModelState.FAILED):
                    break
                await asyncio.sleep(POLL_SECONDS)
        return self._info(model)

    async def _call(self, model: ClusterModel, method: str, *args: Any) -> Any:
        handle = await self._handle(model)
        deployment = self.deployments[model.unit.name]
        for attempt in range(RESENDS + 1):
            try:
                return await deployment.unless_unplaceable(getattr(handle, method).remote(*args))
            except Exception as exc:
                mapped = from_ray(exc, model.name)
                if mapped is None:
                    raise
                if attempt < RESENDS and isinstance(mapped, ReplicaFailedError):
                    continue  # as in _relay: that replica never answered
                raise mapped from None
        raise AssertionError("unreachable")

    async def _handle(self, model: ClusterModel) -> Any:
        """The handle to the model's replicas, once its deployment is up."""
        await self.start()
        deployment = self.deployments[model.unit.name]
        assert deployment.ready is not None
        await deployment.unless_unplaceable(asyncio.shield(deployment.ready))
        if model.unit.pooled:
            return deployment.handle.options(multiplexed_model_id=model.name)
        return deployment.handle

    # -- deploying -------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster and deploy every unit, in the background: /health answers
        meanwhile, and requests wait for their own model's deployment."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        try:
            self._connection = await loop.run_in_executor(self.executor, connect,
                                                          self.config.cluster.address)
        except Exception as exc:
            raise BackendUnavailableError(
                f"Cannot join the Ray cluster at {self.config.cluster.address!r} "
                f"([cluster] address): {exc}") from exc
        self._attached = in_serve_replica()
        self._board = board_actor(self.board_name, detached=self._attached is not None)
        for deployment in self.deployments.values():
            deployment.ready = loop.create_future()
        try:
            await loop.run_in_executor(self.executor, self._deploy)
        except Exception as exc:
            for deployment in self.deployments.values():
                if not deployment.ready.done():  # type: ignore[union-attr]
                    deployment.ready.set_exception(BackendUnavailableError(  # type: ignore[union-attr]
                        f"Deploying on Ray failed: {exc}"))
            raise
        self._poller = loop.create_task(self._poll())

    def _deploy(self) -> None:
        """Every unit as its own Serve application (one call: Ray's deployment
        machinery is not for several threads at once); or, inside ``build_app``'s
        application, just the handles."""
        from ray import serve

        from .deploy import bind_unit

        if self._attached is not None:  # deployed by Ray's tools, with us in the app
            for name, deployment in self.deployments.items():
                deployment.handle = serve.get_deployment_handle(name, self._attached)
            return
        from ray.serve.api import RunTarget

        serve.start(proxy_location="Disabled")
        serve.run_many([RunTarget(bind_unit(self.config, self.units[name], self.board_name),
                                  name=deployment.app, route_prefix=None)
                        for name, deployment in self.deployments.items()],
                       wait_for_applications_running=False)
        for name, deployment in self.deployments.items():
            deployment.handle = serve.get_deployment_handle(name, deployment.app)

    def _watch_status(self) -> None:
        """Settle each unit's ``ready`` as Serve reports its application running or
        failed (called in a worker thread; settles on the loop)."""
        from ray import serve

        status = serve.status().applications
        for name, deployment in self.deployments.items():
            app = status.get(self._attached or deployment.app)
            if app is None:
                continue
            detail = app.deployments.get(name)
            if deployment.waiting and detail is not None and "to be scheduled" in detail.message:
                self._loop.call_soon_threadsafe(self._unplaceable, name, detail.message)
            if deployment.ready is None or deployment.ready.done():
                continue
            if app.status == "RUNNING":
                self._settle(deployment, None)
            elif app.status in ("DEPLOY_FAILED", "UNHEALTHY"):
                detail = app.deployments.get(name)
                message = (detail.message if detail else "") or app.message
                self._settle(deployment, BackendUnavailableError(
                    f"Model deployment '{name}' failed on Ray: {message}"))

    def _unplaceable(self, name: str, message: str) -> None:
        waiting = self.deployments[name].unplaceable
        if waiting is not None and not waiting.done():
            waiting.set_exception(BackendUnavailableError(
                f"No replica of '{name}' can start: Ray cannot place it ({message}). Free "
                "or add the resources its [models.NAME.cluster] asks for (num_cpus, num_gpus)."))

    def _settle(self, deployment: Deployment, exc: Exception | None) -> None:
        def settle() -> None:
            ready = deployment.ready
            if ready is None or ready.done():
                return
            if exc is None:
                ready.set_result(None)
            else:
                ready.set_exception(exc)
                for model in self.models.values():
                    if self.deployments[model.unit.name] is deployment:
                        model.error = exc.args[0]
        self._loop.call_soon_threadsafe(settle)

    async def _poll(self) -> None:
        while not self._closed:
            try:
                if any(d.waiting or (d.ready is not None and not d.ready.done())
                       for d in self.deployments.values()):
                    await asyncio.get_running_loop().run_in_executor(self.executor,
                                                                     self._watch_status)
                await self._refresh()
            except Exception as exc:  # the board restarting; try again
                log.debug("reading the replica board failed: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    async def _refresh(self) -> None:
        if self._board is None:
            return
        reports = await self._board.snapshot.remote()
        for name, deployment in self.deployments.items():
            deployment.reports = [r for r in reports if r["unit"] == name]

    async def settle(self) -> None:
        """Nothing loads in this process."""

    async def close(self, timeout: float = 30.0) -> None:
        """Remove what this front end deployed (not what Ray's tools deployed)."""
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
        if self._starting is None:
            return
        try:
            await self._starting
        except HoshikageError:
            return
        loop = asyncio.get_running_loop()
        if self._attached is None:
            await loop.run_in_executor(self.executor, self._remove, timeout)

    def _remove(self, timeout: float) -> None:
        import ray
        from ray import serve

        if self._connection == "started":  # the cluster was this process's: it all goes
            ray.shutdown()  # (requests have ended: the HTTP server waited for them)
            return
        for deployment in self.deployments.values():  # all at once, then wait
            try:
                serve.delete(deployment.app, _blocking=False)
            except Exception as exc:
                log.warning("removing %s from Ray failed: %s", deployment.app, exc)
        apps = {d.app for d in self.deployments.values()}
        deadline = time.monotonic() + timeout
        while apps & set(serve.status().applications) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        try:
            ray.kill(self._board)
        except Exception:  # already gone
            pass
        if self._connection == "joined":
            ray.shutdown()  # disconnect (leaving Ray's threads running aborts the exit)
