"""This front end's deployments on the cluster: joining it, deploying each unit as a
Serve application, watching Serve's status and the replica board, and removing it all
at the end."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from hoshikage_core.config import HoshikageConfig
from hoshikage_core.errors import BackendUnavailableError

from .board import board_actor
from .connect import connect, in_serve_replica
from .units import Unit

__all__ = ["POLL_SECONDS", "Deployment", "Rollout"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often the front end reads the replica board


@dataclass
class Deployment:
    """One unit on the cluster: its Serve application and the handle to its replicas."""

    app: str
    ready: asyncio.Future[Any] | None = None
    handle: Any = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # why deploying it failed
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


class Rollout:
    """The units of one config on the cluster."""

    def __init__(self, config: HoshikageConfig, units: Sequence[Unit],
                 executor: Executor) -> None:
        self.config, self.executor = config, executor
        self.units = {unit.name: unit for unit in units}
        prefix = config.cluster.name
        self.board_name = f"{prefix}-board"
        self.deployments = {unit.name: Deployment(f"{prefix}-{unit.name}")
                            for unit in units}
        self.board: Any = None
        self._attached: str | None = None  # the Serve app we run in (build_app)
        self._connection: str | None = None  # what connect() did
        self._starting: asyncio.Future[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._closed = False
        self._loop: Any = None  # the event loop start() ran on

    async def start(self) -> None:
        """Join the cluster and hand every unit to Serve (once; not waiting for replicas:
        each request waits for its own model's deployment to be running)."""
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
        self.board = board_actor(self.board_name, detached=self._attached is not None)
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
                deployment.error = exc.args[0]
        self._loop.call_soon_threadsafe(settle)

    async def _poll(self) -> None:
        while not self._closed:
            try:
                if any(d.waiting or (d.ready is not None and not d.ready.done())
                       for d in self.deployments.values()):
                    await asyncio.get_running_loop().run_in_executor(self.executor,
                                                                     self._watch_status)
                await self.refresh()
            except Exception as exc:  # the board restarting; try again
                log.debug("reading the replica board failed: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    async def refresh(self) -> None:
        if self.board is None:
            return
        reports = await self.board.snapshot.remote()
        for name, deployment in self.deployments.items():
            deployment.reports = [r for r in reports if r["unit"] == name]

    async def close(self, timeout: float) -> None:
        """Remove what this front end deployed (not what Ray's tools deployed)."""
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
        if self._starting is None:
            return
        try:
            await self._starting
        except Exception:  # it never got going: nothing to remove
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
            ray.kill(self.board)
        except Exception:  # already gone
            pass
        if self._connection == "joined":
            ray.shutdown()  # disconnect (leaving Ray's threads running aborts the exit)
