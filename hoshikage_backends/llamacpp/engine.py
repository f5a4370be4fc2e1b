"""Continuous batching: up to ``parallel`` generations decode together in one batch.

One engine thread owns the llama.cpp context. Each generation (a :class:`Job`)
is placed in a sequence slot with its own KV cells, its own sampler chain
(penalties, grammar, logit bias, seed) and its own text stream (stop
sequences, UTF-8, logprobs). Every step the engine builds one batch: the next
token of each generating slot, then as many prompt tokens of newly joined
slots as fit in ``n_batch``; one ``llama_decode``; one sample per slot that
needs it. Jobs join between steps and leave when they finish or their client
goes away.

A slot keeps its KV cells after its job ends. A new job goes to the free slot
whose cached tokens share the longest prefix with its prompt, and only the
rest of the prompt is evaluated: turn 2 of a chat does not re-read turn 1.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from hoshikage_core.errors import BackendError
from hoshikage_core.kit.text import TokenTextStream
from hoshikage_core.types import Chunk, FinishReason, Usage

from .draft_model import ModelDrafter
from .logprobs import token_logprob
from .prefix_reuse import PrefixReuse
from .prompt_cache import HostPromptCache
from .runtime import Runtime
from .speculation import (
    CURVE_SIZES,
    DecodeCost,
    NgramDrafter,
    best_draft_length,
    expected_tokens,
    verify,
)

__all__ = ["BatchEngine", "Job"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Job:
    """One generation, handed from a request thread to the engine thread."""

    prompt: list[int]
    max_tokens: int
    sampler: Any  # llama_cpp._internals.LlamaSampler, owned by this job
    text: TokenTextStream
    logprobs: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: int = 0
    reused: int = 0  # prompt tokens found in the slot's KV cache (not evaluated again)
    drafted: int = 0  # speculative draft tokens evaluated
    accepted: int = 0  # of those, tokens the model wrote
    drafter: NgramDrafter | None = None  # speculative drafts, or None to decode one by one
    # set by submit(): chunks go straight to the consumer's event loop, once per step
    loop: asyncio.AbstractEventLoop | None = None
    inbox: asyncio.Queue[Any] | None = None


_RELEASED = object()  # the last item an async consumer receives


@dataclass(eq=False)
class Slot:
    seq_id: int
    cached: list[int] = field(default_factory=list)  # tokens whose KV cells this sequence holds
    job: Job | None = None
    pending: list[int] = field(default_factory=list)  # tokens to evaluate next
    output_row: int = -1  # where this slot's logits are in the last batch, or -1
    draft: list[int] = field(default_factory=list)  # drafted tokens in the last batch
    last_used: float = 0.0


class BatchEngine:
    """Runs the decode loop for one model on its own thread."""

    def __init__(self, runtime: Runtime, piece: Callable[[int], bytes], name: str, *,
                 host_cache: HostPromptCache | None = None,
                 draft_model: ModelDrafter | None = None) -> None:
        self._rt = runtime
        self._piece = piece
        self._slots = [Slot(seq_id=i) for i in range(runtime.parallel)]
        self.reuse = PrefixReuse(runtime, host_cache)
        self.cost = DecodeCost()
        self.draft_model = draft_model  # drafts from a second model, else from n-grams
        self._waiting: deque[Job] = deque()
        self._outbox: dict[asyncio.AbstractEventLoop, list[tuple[Job, Any]]] = defaultdict(list)
        self._outbox_lock = threading.Lock()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"hoshikage-engine-{name}",
                                        daemon=True)
        self._thread.start()

    # -- request side -----------------------------------------------------------------

    def _enqueue(self, job: Job) -> None:
        with self._cond:
            if self._closing:
                raise BackendError("the model is being unloaded")
            self._waiting.append(job)
            self._cond.notify()

    def _cancel(self, job: Job) -> None:
        job.cancelled.set()
        with self._cond:
            if job in self._waiting:  # never started
                self._waiting.remove(job)
                self._release(job)
                self._flush()  # the engine may be idle: deliver the release now
            self._cond.notify()

    async def submit(self, job: Job) -> AsyncIterator[Chunk]:
        """Queue ``job`` and yield its chunks on the caller's event loop; closing the
        iterator cancels it and returns once the engine let go of its slot. No thread
        waits per token: the engine wakes the loop once per decode step for all its
        streams."""
        job.loop, job.inbox = asyncio.get_running_loop(), asyncio.Queue()
        self._enqueue(job)
        released = False
        try:
            while True:
                item = await job.inbox.get()
                if item is _RELEASED:
                    released = True
                    continue
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.is_final:
                    return
        finally:
            self._cancel(job)
            while not released:  # wait (without blocking the loop) until the engine let go
                released = await job.inbox.get() is _RELEASED

    def close(self) -> None:
        with self._cond:
            self._closing = True
            for job in self._waiting:
                self._emit(job, BackendError("the model was unloaded"))
                self._release(job)
            self._waiting.clear()
            self._flush()
            self._cond.notify()
        self._thread.join()

    # -- engine thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._waiting and not self._active():
                    self._cond.wait()
                if self._closing:
                    for slot in self._active():
                        self._finish(slot, error=BackendError("the model was unloaded"))
                    self._flush()
                    return
                free = sum(1 for s in self._slots if s.job is None)
                joining = [self._waiting.popleft() for _ in range(min(free, len(self._waiting)))]
            self._admit(joining)  # outside the lock: restoring a prompt copies its cells
            for slot in self._active():
                if slot.job is not None and slot.job.cancelled.is_set():
                    self._finish(slot)
            active = self._active()
            if not active:
                self._flush()
                continue
            try:
                self._step(active)
            except Exception as exc:  # a failed decode fails the jobs in it, not the engine
                log.exception("decode step failed")
                for slot in active:
                    self._finish(slot, error=BackendError(f"llama.cpp decode failed: {exc}"))
                    self._forget(slot)
            self._flush()

    def _active(self) -> list[Slot]:
        return [s for s in self._slots if s.job is not None]

    def _admit(self, joining: list[Job]) -> None:
        """Put jobs into free slots with the longest computed prefix of their prompts."""
        self.reuse.new_round()
        for job in joining:
            slot, keep = self.reuse.place(job.prompt, self._slots)
            slot.pending = job.prompt[keep:]
            slot.job, job.reused = job, keep

    def _step(self, active: list[Slot]) -> None:
        rt, lib = self._rt, self._rt.lib
        batch = rt.batch.batch
        n = 0
        budget = rt.n_batch
        self._plan_drafts(active)
        # generating slots first (their token and any draft), then prompt chunks in the
        # room left
        for slot in sorted(active, key=lambda s: len(s.pending) > 1):
            slot.output_row = -1
            generating = len(slot.pending) == 1
            take = slot.pending + slot.draft if generating else slot.pending[:budget - n]
            if not take or n + len(take) > budget:
                slot.draft = []
                continue
            position = len(slot.cached)
            first_row = n
            for i, token in enumerate(take):
                batch.token[n] = token
                batch.pos[n] = position + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = slot.seq_id
                batch.logits[n] = generating
                n += 1
            slot.cached.extend(take)
            slot.pending = slot.pending[len(take):] if not generating else []
            if not slot.pending:  # the whole prompt (or the new token) is in: sample after
                batch.logits[n - 1] = True
                slot.output_row = first_row if generating else n - 1
        batch.n_tokens = n
        started = time.perf_counter()
        status = lib.llama_decode(rt.context.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status} for {n} tokens")
        lib.llama_synchronize(rt.context.ctx)
        self.cost.observe(n, time.perf_counter() - started)
        for slot in active:
            if slot.output_row >= 0:
                self._verify(slot)

    def _plan_drafts(self, active: list[Slot]) -> None:
        """Give each generating slot the draft that makes this step write the most
        tokens per second (often none), within the batch, its context and its
        max_tokens."""
        generating = [s for s in active if len(s.pending) == 1]
        for slot in generating:
            slot.draft = []
        if not any(s.job is not None and s.job.drafter is not None for s in generating):
            return  # nothing drafts this step (speculation off): no cost curve to build
        rows, written = len(generating), float(len(generating))
        curve = self.cost.curve(CURVE_SIZES)
        model = self.draft_model
        draft_cost = 0.0
        if model is not None:
            model_curve = model.cost.curve(len(generating))
            draft_cost = model_curve[len(generating)] if model_curve is not None else 0.0
        wanted: list[tuple[Slot, int]] = []
        for slot in generating:
            job = slot.job
            if job is None or job.drafter is None:
                continue
            room = min(self._rt.n_batch - rows, self._rt.n_ctx_seq - len(slot.cached) - 1,
                       job.max_tokens - job.generated - 1, job.drafter.max_draft,
                       CURVE_SIZES - rows)
            if model is not None:
                job.drafter.from_model()
                available = room
            else:
                slot.draft = job.drafter.propose(room)
                available = len(slot.draft)
            if available <= 0:
                continue
            acceptance = job.drafter.acceptance
            paying = (best_draft_length(acceptance, curve, rows, written, available, draft_cost)
                      if curve is not None else 0)  # no cost measured yet: until then, none
            length = max(paying, min(job.drafter.min_draft, available))
            if length == 0 and curve is not None and job.drafter.probe(len(generating)):
                length = 1
            wanted.append((slot, length))
            rows += length
            written += expected_tokens(acceptance, length) - 1
        if model is not None:
            asked = [(slot.seq_id, [*slot.cached, *slot.pending], length)
                     for slot, length in wanted if length > 0]
            drafts = model.draft(asked) if asked else {}
            for slot, _ in wanted:
                slot.draft = drafts.get(slot.seq_id, [])
        else:
            for slot, length in wanted:
                slot.draft = slot.draft[:length]

    def _verify(self, slot: Slot) -> None:
        """Sample the slot's next token, and the drafted tokens after it while the
        sampler agrees with them (see :func:`speculation.verify`)."""
        job = slot.job
        assert job is not None
        first, draft = slot.output_row, slot.draft
        accepted, token = verify(
            draft, lambda row: int(job.sampler.sample(self._rt.context, first + row)),
            lambda token, row: self._write(slot, token, first + row))
        if draft:
            if job.drafter is not None:
                job.drafter.record(len(draft), accepted)
            job.drafted += len(draft)
            job.accepted += accepted
            rejected = len(draft) - accepted
            if rejected:  # their cells follow a token the model did not write
                self._rt.lib.llama_memory_seq_rm(self._rt.context.memory, slot.seq_id,
                                                 len(slot.cached) - rejected, -1)
                del slot.cached[-rejected:]
        slot.draft = []
        if slot.job is job:
            slot.pending = [token]

    def _write(self, slot: Slot, token: int, row: int) -> bool:
        """Hand one sampled token to its job; False once the job has finished."""
        job = slot.job
        assert job is not None
        rt = self._rt
        if rt.lib.llama_vocab_is_eog(rt.vocab, token):
            self._finish(slot, reason="stop")
            return False
        job.generated += 1
        if job.drafter is not None:
            job.drafter.append(token)
        logprob = (token_logprob(rt.context.ctx, rt.n_vocab, row, token,
                                 job.logprobs, self._piece)
                   if job.logprobs is not None else None)
        chunk = job.text.push(self._piece(token), logprob)
        if chunk is not None:
            self._emit(job, chunk)
        if job.text.stopped:
            self._finish(slot, reason="stop")
        elif job.generated >= job.max_tokens:
            self._finish(slot, reason="length")
        else:
            return True
        return False

    def _finish(self, slot: Slot, reason: FinishReason | None = None,
                error: BaseException | None = None) -> None:
        job = slot.job
        slot.job, slot.pending, slot.output_row = None, [], -1
        slot.last_used = time.monotonic()
        if job is None:
            return
        if error is not None:
            self._emit(job, error)
        elif reason is not None:
            self._emit(job, job.text.finish(reason, Usage(prompt_tokens=len(job.prompt),
                                                          completion_tokens=job.generated,
                                                          cached_tokens=job.reused,
                                                          draft_tokens=job.drafted,
                                                          accepted_draft_tokens=job.accepted)))
        job.sampler.close()
        self._release(job)

    def _emit(self, job: Job, item: Any) -> None:
        assert job.loop is not None  # submit() set it before the job was queued
        with self._outbox_lock:
            self._outbox[job.loop].append((job, item))

    def _release(self, job: Job) -> None:
        self._emit(job, _RELEASED)

    def _flush(self) -> None:
        """Hand this step's items to their event loops: one wake-up per loop."""
        with self._outbox_lock:
            outbox, self._outbox = self._outbox, defaultdict(list)
        for loop, items in outbox.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # that loop is closed: its consumers are gone
                pass


    def _forget(self, slot: Slot) -> None:
        self._rt.lib.llama_memory_seq_rm(self._rt.context.memory, slot.seq_id, -1, -1)
        slot.cached = []
        if self.draft_model is not None:
            self.draft_model.forget(slot.seq_id)

    def close_cache(self) -> None:
        """Drop the host-memory prompt cache and the draft model (the model is
        unloading; the engine thread has stopped)."""
        self.reuse.clear()
        if self.draft_model is not None:
            self.draft_model.close()


def _deliver(items: list[tuple[Job, Any]]) -> None:
    for job, item in items:
        assert job.inbox is not None
        job.inbox.put_nowait(item)
