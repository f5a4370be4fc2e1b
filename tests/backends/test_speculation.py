"""Prompt-lookup drafts and the acceptance rule, without a model.

The rule is proved here on a known distribution: generations decoded with
drafts (good ones, bad ones) have exactly the distribution of decoding one
token at a time, and a rule that took drafted tokens on trust would not.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable

from hoshikage_backends.llamacpp.speculation import (
    DecodeCost,
    NgramDrafter,
    best_draft_length,
    expected_tokens,
    verify,
)

VOCAB = 4


def distribution(prefix: tuple[int, ...]) -> list[float]:
    """A made-up model: a different, uneven distribution after every prefix."""
    weights = [1 + (hash((prefix, t)) % 7) for t in range(VOCAB)]
    total = sum(weights)
    return [w / total for w in weights]


def exact(length: int) -> dict[tuple[int, ...], float]:
    probabilities = {}
    for sequence in itertools.product(range(VOCAB), repeat=length):
        p = 1.0
        for i, token in enumerate(sequence):
            p *= distribution(sequence[:i])[token]
        probabilities[sequence] = p
    return probabilities


def decode(length: int, rng: random.Random, drafter: Callable[[tuple[int, ...]], list[int]],
           trust_drafts: bool = False) -> tuple[int, ...]:
    """Generate ``length`` tokens the way the engine does, with ``drafter``'s drafts."""
    written: list[int] = []
    while len(written) < length:
        draft = drafter(tuple(written))[:length - len(written) - 1]
        base = tuple(written)

        def sample(row: int, draft: list[int] = draft, base: tuple[int, ...] = base) -> int:
            if trust_drafts and row > 0:  # a wrong rule: drafted tokens taken as written
                return draft[row - 1]
            context = base + tuple(draft[:row])
            return rng.choices(range(VOCAB), distribution(context))[0]

        def write(token: int, row: int) -> bool:
            written.append(token)
            return len(written) < length

        verify(draft, sample, write)
    return tuple(written)


def chi_square(samples: Counter[tuple[int, ...]], probabilities: dict[tuple[int, ...], float],
               n: int) -> float:
    return sum((samples[s] - n * p) ** 2 / (n * p) for s, p in probabilities.items())


def likely(prefix: tuple[int, ...]) -> list[int]:
    """A good drafter: the most likely continuation, greedily."""
    out: list[int] = []
    for _ in range(3):
        probabilities = distribution(prefix + tuple(out))
        out.append(max(range(VOCAB), key=probabilities.__getitem__))
    return out


def wrong(prefix: tuple[int, ...]) -> list[int]:
    """A bad drafter: the least likely tokens."""
    out: list[int] = []
    for _ in range(3):
        probabilities = distribution(prefix + tuple(out))
        out.append(min(range(VOCAB), key=probabilities.__getitem__))
    return out


def test_drafted_generations_keep_the_models_distribution() -> None:
    length, n = 3, 20000
    probabilities = exact(length)
    # 64 outcomes: the 99.9% point of chi-square with 63 degrees of freedom is ~104
    for drafter in (likely, wrong, lambda prefix: []):
        rng = random.Random(1)
        samples = Counter(decode(length, rng, drafter) for _ in range(n))
        assert chi_square(samples, probabilities, n) < 104, drafter
    rng = random.Random(1)
    trusted = Counter(decode(length, rng, likely, trust_drafts=True) for _ in range(n))
    assert chi_square(trusted, probabilities, n) > 1000  # the test can tell a wrong rule


def test_verify_stops_at_the_first_token_the_sampler_did_not_pick() -> None:
    written: list[int] = []
    picks = iter([5, 6, 9, 7])
    accepted, last = verify([5, 6, 7], lambda row: next(picks),
                            lambda token, row: written.append(token) is None)
    assert (accepted, last, written) == (2, 9, [5, 6, 9])


def test_verify_takes_a_whole_draft_and_one_more() -> None:
    written: list[int] = []
    accepted, last = verify([1, 2], lambda row: [1, 2, 3][row],
                            lambda token, row: written.append(token) is None)
    assert (accepted, last, written) == (2, 3, [1, 2, 3])


def test_verify_ends_where_the_generation_ends() -> None:
    written: list[int] = []
    accepted, last = verify([1, 2, 3], lambda row: [1, 2, 3, 4][row],
                            lambda token, row: written.append(token) is None and row < 1)
    assert (accepted, last, written) == (1, -1, [1, 2])


def test_drafts_continue_the_latest_earlier_occurrence() -> None:
    drafter = NgramDrafter([1, 2, 3, 4, 9, 1, 2, 3, 5, 6, 7, 1, 2, 3], max_draft=3)
    assert drafter.propose(10) == [5, 6, 7]  # 1 2 3 was last followed by 5 6 7
    assert drafter.propose(2) == [5, 6]
    drafter.append(5)
    assert drafter.propose(10) == [6, 7, 1]
    assert NgramDrafter([1, 2, 3, 4], max_draft=8).propose(8) == []  # nothing repeats


def test_acceptance_follows_recent_drafts() -> None:
    drafter = NgramDrafter([1, 2, 1, 2], max_draft=4)
    assert drafter.acceptance == 0.75  # the prior for a 4-gram: three hits, one miss
    for _ in range(20):
        drafter.record(4, 4)
    assert drafter.acceptance > 0.95
    for _ in range(20):
        drafter.record(2, 0)
    assert drafter.acceptance < 0.1
    assert (drafter.drafted, drafter.accepted) == (120, 80)


def test_probes_come_less_often_after_each_miss() -> None:
    drafter = NgramDrafter([], max_draft=4)

    def gap(streams: int = 1) -> int:
        steps = 1
        while not drafter.probe(streams):
            steps += 1
        return steps

    assert drafter.probe()
    drafter.record(1, 0)
    gaps = []
    for _ in range(6):
        gaps.append(gap())
        drafter.record(1, 0)
    assert gaps == [9, 17, 33, 65, 65, 65]
    drafter.record(1, 1)  # a hit: probes are frequent again
    gap()
    assert gap() == 5
    assert gap(streams=4) == 5 and gap(streams=4) == 17  # in a batch of 4, 4 times rarer


def test_the_cost_curve_follows_the_decodes_seen() -> None:
    cost = DecodeCost()
    assert cost.curve(4) is None
    cost.observe(1, 0.010)
    assert cost.curve(3) == [0.005, 0.010, 0.015, 0.020]  # a guess: half a step a token
    for n, seconds in ((2, 0.014), (4, 0.030), (8, 0.050)):
        cost.observe(n, seconds)
    cost.observe(300, 0.1)  # a prompt's batch runs faster kernels: left out
    curve = cost.curve(12)
    assert curve is not None
    assert [round(x, 4) for x in curve[1:5]] == [0.010, 0.014, 0.022, 0.030]  # between points
    assert round(curve[12], 4) == 0.070  # beyond them, the slope of the last two
    assert round(curve[0], 4) == 0.006  # before them, of the first two


def test_drafts_are_as_long_as_pays_off() -> None:
    cpu = [0.009 + 0.008 * n for n in range(80)]  # a small model on a CPU: every row
    gpu = [0.010 + 0.0001 * n for n in range(80)]  # costs nearly a step; on a GPU, little
    assert best_draft_length(0.3, cpu, 1, 1.0, 16) == 0
    assert 4 <= best_draft_length(0.95, cpu, 1, 1.0, 16) <= 10
    assert best_draft_length(0.95, gpu, 1, 1.0, 16) == 16
    assert best_draft_length(0.6, gpu, 1, 1.0, 16) >= 4
    # a batch already busy with 8 streams: a draft's rows weigh more than alone
    assert best_draft_length(0.95, cpu, 8, 8.0, 16) < best_draft_length(0.95, cpu, 1, 1.0, 16)
    assert expected_tokens(0.5, 2) == 1.75
