"""Run blocking backend work off the event loop.

A sync chunk iterator is driven to the end by one worker thread, which hands
items to the event loop as they come (one thread hop per generation, not one
per token). Closing the async side asks the thread to stop and waits until the
backend's iterator is closed, so a slot is never released while the backend
still works.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")

_ITEM, _DONE, _ERROR, _ASYNC = range(4)


async def iterate_in_thread(
    make_iterator: Callable[[], Iterator[T] | AsyncIterator[T]],
    executor: Executor | None = None,
    *,
    max_buffered: int = 64,
) -> AsyncGenerator[T, None]:
    """Yield what ``make_iterator()`` yields, running it in ``executor``.

    ``make_iterator`` itself is called in the worker thread (it may block).
    If it returns an async iterator, that one is consumed on the event loop.
    The thread runs at most ``max_buffered`` items ahead of the consumer, so a
    slow client slows the backend down instead of filling memory.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    stop = threading.Event()
    room = threading.Semaphore(max_buffered)

    def wait_for_room() -> bool:
        while not room.acquire(timeout=0.05):
            if stop.is_set():
                return False
        return not stop.is_set()

    def post(kind: int, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        try:
            iterator = make_iterator()
            if hasattr(iterator, "__anext__"):
                post(_ASYNC, iterator)
                return
            try:
                for item in iterator:  # type: ignore[union-attr]
                    if not wait_for_room():
                        break
                    post(_ITEM, item)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, re-raised there
            post(_ERROR, exc)
        else:
            post(_DONE, None)

    worker = loop.run_in_executor(executor, produce)
    try:
        while True:
            kind, value = await queue.get()
            if kind == _ITEM:
                room.release()
                yield value
            elif kind == _DONE:
                return
            elif kind == _ERROR:
                raise value
            else:
                async_iterator: AsyncIterator[T] = value
                try:
                    async for item in async_iterator:
                        yield item
                finally:
                    aclose = getattr(async_iterator, "aclose", None)
                    if aclose is not None:
                        await aclose()
                return
    finally:
        stop.set()
        if not worker.done():
            # Wait for the backend to stop even if we are being cancelled.
            await asyncio.shield(worker)
