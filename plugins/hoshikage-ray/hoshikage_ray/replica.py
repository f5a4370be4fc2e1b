"""One replica of a deployment: a local Hoshikage (lifecycle, admission, backends,
continuous batching) serving that deployment's models, called by the front end
through Ray Serve handles."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

from hoshikage_core import GenerationRequest, Hoshikage

from .board import board_actor
from .wire import packed

__all__ = ["ModelReplica", "PooledModel"]

log = logging.getLogger(__name__)


class PooledModel:
    """What Ray's ``@serve.multiplexed`` keeps per model in a pool replica: when Ray
    drops it (least recently used beyond ``max_models``), the model unloads."""

    def __init__(self, hoshikage: Hoshikage, name: str) -> None:
        self.hoshikage, self.name = hoshikage, name
        self.loop = asyncio.get_running_loop()

    def __del__(self) -> None:  # Ray calls it in a thread when it drops the model
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.hoshikage.unload(self.name), self.loop)


class ModelReplica:
    """A Serve deployment's replica (the class is wrapped by :mod:`.deploy`)."""

    async def __init__(  # type: ignore[misc]  # Ray awaits it
            self, config: dict[str, Any], unit: str, board: str, pooled: bool = False,
            heartbeat: float = 0.5) -> None:
        import ray
        from ray import serve

        self.hoshikage = Hoshikage(config)
        self.unit, self.pooled, self.heartbeat = unit, pooled, heartbeat
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        self.node_id = ray.get_runtime_context().get_node_id()
        self.board = board_actor(board, detached=True)  # build_app: maybe first here
        self.unloads_seen: dict[str, int] | None = None
        self.unloading: set[asyncio.Task[Any]] = set()
        await self.hoshikage.start()
        self.beating = asyncio.get_running_loop().create_task(self._beat())

    # -- what the front end calls ----------------------------------------------

    async def generate(self, request: GenerationRequest,
                       keep_alive: float | None = None) -> AsyncGenerator[Any, None]:
        """The chunks of one generation, streamed back (closed: cancelled)."""
        await self._multiplexed(request.model)
        try:
            with packed():
                async with aclosing(self.hoshikage.generate(request, keep_alive=keep_alive)) \
                        as chunks:
                    async for chunk in chunks:
                        yield chunk
        finally:
            self._report_soon()

    async def use(self, model: str, work: Callable[..., Any],
                  keep_alive: float | None = None) -> Any:
        """``work(backend, handle)`` on the loaded model (embeddings, tokens)."""
        await self._multiplexed(model)
        with packed():
            return await self.hoshikage.models.use(model, work, keep_alive=keep_alive)

    async def chat_template(self, model: str) -> Any:
        await self._multiplexed(model)
        with packed():
            return await self.hoshikage.chat_template(model)

    async def load(self, model: str, keep_alive: float | None = None) -> dict[str, Any]:
        await self._multiplexed(model)
        with packed():
            info = await self.hoshikage.load(model, keep_alive=keep_alive)
        self._report_soon()
        return info.to_dict()

    # -- the board ---------------------------------------------------------------

    async def _multiplexed(self, model: str) -> None:
        """In a pool, tell Ray's multiplexing which model this replica holds (Ray then
        routes that model's requests here first)."""
        if self.pooled:
            await self.load_pooled(model)

    async def load_pooled(self, model: str) -> None:
        """A pool's replica class (:func:`.deploy.replica_class`) loads through Ray's
        multiplexing here."""

    def _report(self) -> dict[str, Any]:
        infos = self.hoshikage.list_models()
        return {"replica": self.replica_id, "unit": self.unit, "node_id": self.node_id,
                "pid": os.getpid(), "models": [i.to_dict() for i in infos]}

    def _report_soon(self) -> None:
        self.board.report.remote(self.replica_id, self._report())

    async def _beat(self) -> None:
        while True:
            try:
                unloads = await self.board.report.remote(self.replica_id, self._report())
                await self._follow(unloads)
            except Exception as exc:  # the board restarting: try again next beat
                log.debug("replica %s could not report: %s", self.replica_id, exc)
            await asyncio.sleep(self.heartbeat)

    async def _follow(self, unloads: dict[str, int]) -> None:
        """Unload the models whose unload count went up since the last beat."""
        seen, self.unloads_seen = self.unloads_seen, dict(unloads)
        if seen is None:
            return  # counts from before this replica started are not for it
        names = {i.id for i in self.hoshikage.list_models()}
        for model, count in unloads.items():
            if model in names and count > seen.get(model, 0):
                # in the background: an unload waits for running requests, and the
                # beat goes on meanwhile (a replica that stops reporting looks dead)
                task = asyncio.get_running_loop().create_task(self.hoshikage.unload(model))
                self.unloading.add(task)
                task.add_done_callback(self.unloading.discard)

    def check_health(self) -> None:
        """Ray's health check: the replica's event loop answers."""

    async def __del__(self) -> None:
        self.beating.cancel()
        try:
            await self.board.leave.remote(self.replica_id)
        except Exception:  # the board is gone with the front end
            pass
        await self.hoshikage.aclose()

