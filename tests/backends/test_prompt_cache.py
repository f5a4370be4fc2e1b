"""The host-memory prompt cache's bookkeeping: longest prefix, LRU by bytes."""

from __future__ import annotations

import random

from hoshikage_backends.llamacpp.prompt_cache import HostPromptCache, common_prefix


def test_common_prefix_matches_a_plain_loop() -> None:
    rng = random.Random(3)
    for _ in range(500):
        a = [rng.randrange(3) for _ in range(rng.randrange(40))]
        b = a[:rng.randrange(len(a) + 1)] + [rng.randrange(3) for _ in range(rng.randrange(5))]
        expected = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        assert common_prefix(a, b) == expected


def test_the_longest_shared_prefix_wins() -> None:
    cache = HostPromptCache(capacity=100)
    cache.store([1, 2, 3, 4], "a", 10)
    cache.store([1, 2, 9], "b", 10)
    entry, length = cache.best([1, 2, 3, 7])
    assert entry is not None and (entry.state, length) == ("a", 3)
    assert cache.best([5])[0] is None


def test_least_recently_used_entries_go_first_to_stay_under_the_bytes() -> None:
    cache = HostPromptCache(capacity=30)
    cache.store([1], "a", 10)
    cache.store([2], "b", 10)
    cache.store([3], "c", 10)
    a, _ = cache.best([1])
    assert a is not None
    cache.touch(a)  # used again: "b" is now the oldest
    cache.store([4], "d", 10)
    assert [cache.best([t])[0] is not None for t in (1, 2, 3, 4)] == [True, False, True, True]
    assert cache.bytes == 30
    assert not cache.store([5], "too big", 31)
    assert cache.bytes == 30 and len(cache) == 3


def test_a_prefix_of_a_newer_entry_is_dropped_and_covered() -> None:
    cache = HostPromptCache(capacity=100)
    cache.store([1, 2], "short", 10)
    cache.store([1, 2, 3], "long", 20)
    assert len(cache) == 1 and cache.bytes == 20
    assert cache.covers([1, 2]) and cache.covers([1, 2, 3]) and not cache.covers([1, 2, 3, 4])
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0
