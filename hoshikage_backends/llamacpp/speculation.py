"""Prompt-lookup drafts for speculative decoding, with no second model.

A model that rewrites code, quotes a document or fills JSON from its input
writes long runs of tokens it has already seen. :class:`NgramDrafter` finds the
latest earlier place where the last few tokens (an n-gram) occurred in the
prompt or the answer so far, and proposes the tokens that followed it there.
The engine evaluates them in the same batch as the real next token and keeps
the longest run the model's own sampler agrees with (:func:`verify`), so what
is written never changes: only how many tokens one decode step yields.

Drafts are not free: every drafted token is a batch row. On a GPU, or with a
large model on a CPU, a few more rows cost little; with a small model on a CPU
each row costs nearly as much as a step. So the draft's length is chosen each
step from two measurements: what a batch of ``n`` tokens costs on this machine
(:class:`DecodeCost`, from the engine's own decodes) and how often this request
accepted drafted tokens lately. When no length pays, the request decodes one
token per step, trying a one-token draft now and then (less often after each
miss) in case the text turned into a copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

__all__ = ["NGRAM_SIZES", "DecodeCost", "NgramDrafter", "best_draft_length", "expected_tokens",
           "verify"]

NGRAM_SIZES = (4, 3, 2)  # tried longest first: a longer match predicts better
_DECAY = 0.95  # weight of older drafts in the acceptance estimate
# before any draft: hits and misses assumed per n-gram size (a longer match is surer),
# and after a draft that was written whole (copying tends to go on)
_PRIOR = {(4, False): (3.0, 1.0), (3, False): (2.0, 1.0), (2, False): (1.0, 1.0),
          (4, True): (8.0, 1.0), (3, True): (6.0, 1.0), (2, True): (4.0, 1.0)}
_DRAFT_SIZES = 64  # decodes up to this many tokens tell what a draft's rows cost
_PROBE_FIRST, _PROBE_MAX = 4, 64  # steps between one-token probes while drafting does not pay


class NgramDrafter:
    """The token history of one generation, indexed by its n-grams, and how well
    drafts from it have done."""

    def __init__(self, tokens: Iterable[int], max_draft: int, min_draft: int = 0) -> None:
        self.tokens: list[int] = []
        self.max_draft = max_draft
        self.min_draft = min_draft
        self.drafted = 0  # draft tokens proposed
        self.accepted = 0  # of those, tokens the model wrote
        # decayed counts of drafted tokens written and of rejections, per n-gram size
        # and whether the draft before was written whole: acceptance comes in runs
        self._record = {key: list(prior) for key, prior in _PRIOR.items()}
        self._size = NGRAM_SIZES[0]  # the n-gram size of the last proposal
        self._whole = False  # whether the last draft was written whole
        self._probe_in = 0
        self._probe_every = _PROBE_FIRST
        # per n-gram size: n-gram -> where the token after its latest occurrence is
        self._index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in NGRAM_SIZES}
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        """Add a token the model wrote (or a prompt token)."""
        tokens = self.tokens
        tokens.append(token)
        end = len(tokens) - 1  # the n-grams ending before this token now have a follower
        for n, index in self._index.items():
            if end >= n:
                index[tuple(tokens[end - n:end])] = end

    def propose(self, limit: int) -> list[int]:
        """Up to ``min(limit, max_draft)`` tokens that may come next; [] if none."""
        limit = min(limit, self.max_draft)
        if limit <= 0:
            return []
        tokens = self.tokens
        for n, index in self._index.items():
            if len(tokens) < n:
                continue
            start = index.get(tuple(tokens[-n:]))
            if start is not None:
                self._size = n
                return tokens[start:start + limit]
        return []

    @property
    def acceptance(self) -> float:
        """The estimated chance that the next drafted token is written, given that the
        ones before it were: for drafts from an n-gram of the last proposal's size,
        after a draft written whole or not (recent drafts count most)."""
        hits, misses = self._record[self._size, self._whole]
        return hits / (hits + misses)

    def probe(self) -> bool:
        """Whether to try a one-token draft although longer ones do not pay now."""
        if self._probe_in > 0:
            self._probe_in -= 1
            return False
        self._probe_in = self._probe_every
        return True

    def record(self, drafted: int, accepted: int) -> None:
        """What became of a draft of ``drafted`` tokens."""
        self.drafted += drafted
        self.accepted += accepted
        counts = self._record[self._size, self._whole]
        fade = _DECAY ** drafted
        counts[0] = counts[0] * fade + accepted
        counts[1] = counts[1] * fade + (accepted < drafted)
        self._whole = accepted == drafted
        if accepted:
            self._probe_every, self._probe_in = _PROBE_FIRST, 0
        else:
            self._probe_every = min(self._probe_every * 2, _PROBE_MAX)
            self._probe_in = self._probe_every


class DecodeCost:
    """Seconds one ``llama_decode`` of ``n`` tokens takes on this machine, as a line
    ``fixed + per_token * n`` fitted to the engine's recent decodes."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}  # bucket -> (mean n, mean s)

    @staticmethod
    def _bucket(n: int) -> int:
        return n if n <= 32 else 32 + n.bit_length()  # exact when small, then by doubling

    def observe(self, n: int, seconds: float) -> None:
        key = self._bucket(n)
        old = self._buckets.get(key)
        self._buckets[key] = ((n, seconds) if old is None else
                              (0.8 * old[0] + 0.2 * n, 0.8 * old[1] + 0.2 * seconds))

    def line(self) -> tuple[float, float] | None:
        """``(fixed, per_token)`` for batches of up to 64 tokens (a prompt's larger
        batches run faster kernels per token, and drafts never reach them), or None
        before any decode. From one size only, a guess: each extra token costs half
        a step, as on a CPU."""
        points = [p for p in self._buckets.values() if p[0] <= _DRAFT_SIZES]
        if not points:
            return None
        if len(points) == 1:
            n, seconds = points[0]
            return seconds / (1 + n), seconds / (1 + n)
        mean_n = sum(n for n, _ in points) / len(points)
        mean_s = sum(s for _, s in points) / len(points)
        spread = sum((n - mean_n) ** 2 for n, _ in points)
        slope = sum((n - mean_n) * (s - mean_s) for n, s in points) / spread
        slope = max(slope, 0.0)
        fixed = max(mean_s - slope * mean_n, 1e-6)
        return fixed, slope


def expected_tokens(acceptance: float, length: int) -> float:
    """Tokens one step writes with a draft of ``length``: the next token, plus each
    drafted one if all before it were accepted."""
    return sum(acceptance ** i for i in range(length + 1))


def best_draft_length(acceptance: float, cost: tuple[float, float], batch_tokens: int,
                      batch_yield: float, limit: int) -> int:
    """The draft length (0 to ``limit``) that writes the most tokens per second in a
    batch that, without it, has ``batch_tokens`` rows and writes ``batch_yield``
    tokens (this slot's next token included)."""
    fixed, per_token = cost
    best, best_rate = 0, batch_yield / (fixed + per_token * batch_tokens)
    for length in range(1, limit + 1):
        rate = ((batch_yield - 1 + expected_tokens(acceptance, length))
                / (fixed + per_token * (batch_tokens + length)))
        if rate > best_rate:
            best, best_rate = length, rate
    return best


def verify(draft: Sequence[int], sample: Callable[[int], int],
           write: Callable[[int, int], bool]) -> tuple[int, int]:
    """Check a draft against the model: the standard acceptance rule for a draft that
    is certain of its tokens.

    Row 0 holds the model's distribution after the last written token, row ``i`` its
    distribution after ``draft[:i]`` as well. ``sample(row)`` draws from a row with
    the request's own sampler, exactly as decoding one token at a time would, and
    ``write(token, row)`` hands the token on (False: the generation has ended). Rows
    are sampled in order while each sample equals the drafted token, so every token
    written is a draw from the model's distribution given what was written before
    it: the output, and its distribution, are those of decoding without a draft.
    Returns how many drafted tokens were accepted and the last token written (-1
    if the generation ended first).
    """
    accepted = 0
    for row in range(len(draft) + 1):
        token = sample(row)
        if not write(token, row):
            return accepted, -1
        if row < len(draft) and token == draft[row]:
            accepted += 1
            continue
        return accepted, token
    raise AssertionError("unreachable: the last row always returns")
