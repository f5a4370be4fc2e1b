"""Reloading the config by itself: on SIGHUP, and when the config file or a
discovery folder changes.

Opt-in (``[reload] watch = true``). The watcher looks every ``[reload] interval``
at the config file and at the names, sizes and times of the files in the discovery
folders; it reloads once a change has held still for one interval (so a GGUF still
being copied is not read half-written), and not again until something changes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..config.schema import HoshikageConfig
from ..discovery.scan import huggingface_hub, ollama_store, store_folder
from ..errors import ConfigError, HoshikageError
from ..lifecycle.loader import file_stamp

if TYPE_CHECKING:
    from ..hoshikage import Hoshikage
    from .reload import ReloadReport

__all__ = ["ConfigWatcher", "reload_and_log", "reload_on_hangup", "watched_paths",
           "watched_state"]

log = logging.getLogger(__name__)

Snapshot = tuple[tuple[str, int, int], ...]


async def reload_and_log(hoshikage: Hoshikage, why: str) -> ReloadReport:
    """``hoshikage.reload()``, with what it did (or why it refused) in the log."""
    try:
        report = await hoshikage.reload()
    except (ConfigError, HoshikageError) as exc:
        log.error("%s: the config was not reloaded; still serving the one before.\n%s", why,
                  exc)
        raise
    log.info("%s: %s", why, report.summary())
    for line in report.discovery.lines():
        log.warning("%s", line)
    return report


def reload_on_hangup(hoshikage: Hoshikage) -> Callable[[], None]:
    """Reload ``hoshikage`` on SIGHUP (on this event loop, in the main thread); returns
    what stops it. Nothing happens where there is no SIGHUP (Windows)."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            await reload_and_log(hoshikage, "SIGHUP")
        except (ConfigError, HoshikageError):
            pass  # logged

    def on_hangup() -> None:
        task = loop.create_task(reload())
        running.add(task)
        task.add_done_callback(running.discard)

    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None:
        return lambda: None
    try:
        loop.add_signal_handler(hangup, on_hangup)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
        return lambda: None

    def stop() -> None:
        loop.remove_signal_handler(hangup)

    return stop


def watched_paths(config: HoshikageConfig) -> list[Path]:
    """The config file and every folder discovery scans."""
    paths = [config.source] if config.source is not None else []
    paths.extend(config.discovery.dirs)
    for setting, default in ((config.discovery.huggingface, huggingface_hub),
                             (config.discovery.ollama, ollama_store)):
        folder = store_folder(setting, default, os.environ)
        if folder is not None:
            paths.append(folder)
    return paths


def watched_state(config: HoshikageConfig) -> Snapshot:
    """(path, size, mtime_ns) of the config file and of each file under the folders."""
    entries: list[tuple[str, int, int]] = []
    for path in watched_paths(config):
        if path.is_file():
            entries.append(_entry(path))
        for folder, subfolders, files in os.walk(path, followlinks=True):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            entries.extend(_entry(Path(folder) / f) for f in files if not f.startswith("."))
    return tuple(sorted(entries))


def _entry(path: Path) -> tuple[str, int, int]:
    size, mtime = file_stamp(path) or (-1, -1)
    return (str(path), size, mtime)


class ConfigWatcher:
    """Reloads ``hoshikage`` when what it was configured from changes."""

    def __init__(self, hoshikage: Hoshikage, clock: Clock) -> None:
        self._hoshikage = hoshikage
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0
        """Reloads it started (for tests and logs)."""

    def start(self) -> None:
        if self._task is None:  # in a context of its own: not the request that started it
            loop = asyncio.get_running_loop()
            self._task = contextvars.Context().run(loop.create_task, self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            if task is not asyncio.current_task():  # a reload it started turned it off
                await asyncio.gather(task, return_exceptions=True)

    async def _look(self) -> Snapshot:
        return await self._hoshikage.in_worker(watched_state, self._hoshikage.config)

    async def _run(self) -> None:
        applied = await self._look()
        pending: Any = None
        while True:
            await self._clock.sleep(self._hoshikage.config.reload.interval)
            now = await self._look()
            if now == applied or now != pending:
                pending = None if now == applied else now  # a change: wait for it to hold
                continue
            self.reloads += 1
            try:
                await reload_and_log(self._hoshikage, "a watched file changed")
            except (ConfigError, HoshikageError):
                pass  # logged; tried again when the files change again
            except Exception:
                log.exception("reloading the config failed")
            applied, pending = await self._look(), None
