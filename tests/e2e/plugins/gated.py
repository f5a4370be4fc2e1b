"""A test backend for a real server whose loads wait for the test: a load of a model
with ``path = X`` returns once the file ``X.go`` exists, so a test decides when a
load ends without timing anything. It echoes the prompt back."""

import time
from pathlib import Path

from hoshikage_core import Chunk, Usage, hookimpl


@hookimpl
def hoshikage_load(model):
    gate = Path(f"{model.path}.go")
    for _ in range(60_000):  # a hang guard: at most ten minutes
        if gate.exists():
            return model.name
        time.sleep(0.01)
    raise RuntimeError(f"{gate} never appeared")


@hookimpl
def hoshikage_generate(handle, request):
    text = request.prompt if request.prompt is not None else request.messages[-1].content
    yield Chunk(text=text)
    yield Chunk(finish_reason="stop", usage=Usage(len(text.split()), 1))


@hookimpl
def hoshikage_unload(handle):
    pass
