"""The worker-thread bridge: order, errors, early close, async iterators."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from hoshikage_core.lifecycle.threads import iterate_in_thread


async def collect(it: AsyncIterator[int]) -> list[int]:
    return [x async for x in it]


async def test_items_arrive_in_order_from_another_thread() -> None:
    seen: set[str] = set()

    def numbers() -> Iterator[int]:
        seen.add(threading.current_thread().name)
        yield from range(100)

    assert await collect(iterate_in_thread(numbers)) == list(range(100))
    assert threading.current_thread().name not in seen


async def test_error_is_raised_in_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await collect(iterate_in_thread(broken))


async def test_factory_error_is_raised_too() -> None:
    def factory() -> Iterator[int]:
        raise KeyError("no handle")

    with pytest.raises(KeyError):
        await collect(iterate_in_thread(factory))


async def test_closing_early_closes_the_backend_iterator_before_returning() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            closed.set()

    stream = iterate_in_thread(endless, max_buffered=8)
    async for x in stream:
        if x == 3:
            break
    await stream.aclose()
    assert closed.is_set()  # closed before aclose() returned: no work left running
    # it ran at most the buffer ahead of the consumer, then stopped
    assert len(produced) <= 4 + 8 + 1


async def test_async_iterator_is_consumed_on_the_loop() -> None:
    async def agen() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    assert await collect(iterate_in_thread(agen)) == [0, 1, 2]
