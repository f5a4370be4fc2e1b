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

__all__ = ["CURVE_SIZES", "MODEL", "NGRAM_SIZES", "DecodeCost", "NgramDrafter", "best_draft_length",
           "expected_tokens", "verify"]

NGRAM_SIZES = (4, 3, 2)  # tried longest first: a longer match predicts better
_DECAY = 0.95  # weight of older drafts in the acceptance estimate
# before any draft: hits and misses assumed per n-gram size (a longer match is surer),
# and after a draft that was written whole (copying tends to go on)
MODEL = 0  # the "n-gram size" of a draft model's drafts, in the acceptance records
_PRIOR = {(4, False): (3.0, 1.0), (3, False): (2.0, 1.0), (2, False): (1.0, 1.0),
          (4, True): (4.0, 1.0), (3, True): (3.0, 1.0), (2, True): (2.0, 1.0),
          (MODEL, False): (2.0, 1.0), (MODEL, True): (4.0, 1.0)}
_DRAFT_SIZES = 64  # decodes up to this many tokens tell what a draft's rows cost
CURVE_SIZES = 2 * _DRAFT_SIZES  # how far the engine asks for the cost curve
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

    def from_model(self) -> None:
        """The next draft comes from a draft model: estimate and record it as such."""
        self._size = MODEL

    @property
    def acceptance(self) -> float:
        """The estimated chance that the next drafted token is written, given that the
        ones before it were: for drafts from an n-gram of the last proposal's size,
        after a draft written whole or not (recent drafts count most)."""
        hits, misses = self._record[self._size, self._whole]
        return hits / (hits + misses)

    def probe(self, streams: int = 1) -> bool:
        """Whether to try a one-token draft although longer ones do not pay now. With
        ``streams`` generations in the batch, each probes that much less often: a
        probe's row costs the whole batch a share of a step."""
        if self._probe_in > 0:
            self._probe_in -= 1
            return False
        self._probe_in = self._probe_every * max(1, streams)
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
            self._probe_every = _PROBE_FIRST
        else:
            self._probe_every = min(self._probe_every * 2, _PROBE_MAX)
            self._probe_in = max(self._probe_in, self._probe_every)


class DecodeCost:
    """Seconds one ``llama_decode`` of ``n`` tokens takes on this machine, from the
    engine's recent decodes of up to 64 tokens (a prompt's larger batches run faster
    kernels per token, and drafts never reach them). Between sizes it has seen it
    interpolates; beyond them it follows the nearest two. The cost is not a line: on
    a CPU a few more rows cost more per row in a small batch than in a larger one."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}  # n -> (n, mean seconds)

    def observe(self, n: int, seconds: float) -> None:
        if n > _DRAFT_SIZES:
            return
        old = self._buckets.get(n)
        self._buckets[n] = (n, seconds if old is None else 0.8 * old[1] + 0.2 * seconds)

    def curve(self, up_to: int) -> list[float] | None:
        """Seconds for every batch size from 0 to ``up_to``, or None before any
        decode. From one size only, a guess: each token past the first costs half a
        step, as on a CPU."""
        points = sorted(self._buckets.values())
        if not points:
            return None
        if len(points) == 1:
            n, seconds = points[0]
            per = seconds / (1 + n)
            return [per * (1 + k) for k in range(up_to + 1)]
        out = []
        i = 0
        for k in range(up_to + 1):
            while i < len(points) - 2 and k > points[i + 1][0]:
                i += 1
            (n0, s0), (n1, s1) = points[i], points[i + 1]
            slope = max((s1 - s0) / (n1 - n0), 0.0)
            out.append(max(s0 + slope * (k - n0), 1e-6))
        return out


def expected_tokens(acceptance: float, length: int) -> float:
    """Tokens one step writes with a draft of ``length``: the next token, plus each
    drafted one if all before it were accepted."""
    return sum(acceptance ** i for i in range(length + 1))


def best_draft_length(acceptance: float, curve: Sequence[float], batch_tokens: int,
                      batch_yield: float, limit: int, draft_cost: float = 0.0) -> int:
    """The draft length (0 to ``limit``) that writes the most tokens per second in a
    batch that, without it, has ``batch_tokens`` rows and writes ``batch_yield``
    tokens (this slot's next token included). ``curve[n]``: seconds to decode ``n``
    tokens (:meth:`DecodeCost.curve`, long enough); ``draft_cost``: seconds to draft
    one token (a draft model's decode; nothing for prompt lookup)."""
    best, best_rate = 0, batch_yield / curve[batch_tokens]
    written, chance = 1.0, 1.0  # expected_tokens(acceptance, length), built up as it grows
    for length in range(1, limit + 1):
        chance *= acceptance
        written += chance
        rate = ((batch_yield - 1 + written)
                / (curve[batch_tokens + length] + draft_cost * length))
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
