"""Where a server's time goes during one stream, sampled with py-spy.

``py-spy record --native --format raw`` writes collapsed stacks
(``frame;frame;... count``) of every thread, C frames included (so time inside
``llama_decode`` shows as such); each sample is put in the first category whose
marker appears in its stack, looked for from the innermost frame outwards.
Threads waiting for work are left out of the shares.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["CATEGORIES", "IDLE", "OTHER", "profile_while", "summarize"]

IDLE = "waiting (not counted)"
# (category, markers): the first category with a marker in a sample's stack wins.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    (IDLE, ("PyThread_acquire_lock", "_queue_SimpleQueue_get", "epoll_wait", "Condition.wait",
            "Event.wait", "select (")),
    ("llama_decode (the model's compute)", ("llama_decode",)),
    ("sampling", ("sampling.py", "llama_sampler", "logprobs.py")),
    ("token text and stop matching", ("text.py", "token_to_piece", "_piece")),
    ("decode engine bookkeeping", ("engine.py",)),
    ("SSE framing and JSON", ("sse_starlette", "streaming.py", "json/", "routers/")),
    ("HTTP and the event loop", ("uvicorn", "h11", "asyncio", "starlette", "anyio")),
]
OTHER = "other"


def summarize(collapsed: str) -> dict[str, float]:
    """Share of samples per category (0-1), from py-spy's raw (collapsed) output."""
    counts: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        frames = stack.split(";")[::-1]  # innermost first
        category = next((name for frame in frames for name, markers in CATEGORIES
                         if any(marker in frame for marker in markers)), OTHER)
        if category == IDLE:
            continue
        counts[category] = counts.get(category, 0) + int(number)
        total += int(number)
    return {name: count / total for name, count in counts.items()} if total else {}


def profile_while(pid: int, work: Callable[[], None], *,
                  rate: int = 200) -> tuple[dict[str, float], int] | None:
    """Sample process ``pid`` while ``work()`` runs; None if py-spy is not installed
    (or may not attach)."""
    binary = shutil.which("py-spy")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "profile.txt"
        recorder = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
             "--output", str(out), "--native"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started = threading.Event()

        def watch() -> None:  # py-spy says when it has attached
            assert recorder.stderr is not None
            for line in iter(recorder.stderr.readline, b""):
                if b"Sampling process" in line:
                    started.set()
            started.set()

        threading.Thread(target=watch, daemon=True).start()
        started.wait(timeout=30)
        try:
            work()
        finally:
            recorder.send_signal(2)  # SIGINT: py-spy writes what it has and exits
            recorder.wait(timeout=60)
        if not out.exists():
            return None
        text = out.read_text()
    shares = summarize(text)
    samples = sum(int(line.rpartition(" ")[2]) for line in text.splitlines()
                  if line.rpartition(" ")[2].isdigit() and not _idle(line))
    return shares, samples


def _idle(line: str) -> bool:
    markers = CATEGORIES[0][1]
    return any(marker in line for marker in markers)
