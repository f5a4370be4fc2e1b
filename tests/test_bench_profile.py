"""The benchmark's profile summary puts samples where they belong."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

from pyspy import OTHER, summarize  # noqa: E402  (waiting threads are left out)


def test_samples_go_to_the_innermost_known_category() -> None:
    collapsed = "\n".join([
        "_bootstrap (threading.py:1);run (engine.py:90);_step (engine.py:120);"
        "llama_decode (llama_cpp.py:900) 80",
        "_bootstrap (threading.py:1);run (engine.py:90);sample (sampling.py:40) 5",
        "run (asyncio/base_events.py:600);_write (uvicorn/protocols/h11_impl.py:10) 10",
        "run (asyncio/base_events.py:600);send (sse_starlette/sse.py:200) 3",
        "main (somewhere.py:1) 2",
        "_worker (concurrent/futures/thread.py:81);_queue_SimpleQueue_get (x.c:1) 50",
        "not a sample line",
    ])
    shares = summarize(collapsed)
    assert shares == {"llama_decode (the model's compute)": 0.8, "sampling": 0.05,
                      "HTTP and the event loop": 0.1, "SSE framing and JSON": 0.03, OTHER: 0.02}
    assert summarize("") == {}
