"""Hoshikage's own cost per streamed token, with a backend that costs nothing.

    python bench/overhead.py [--tokens 4000] [--rounds 3]

Serves a model whose backend yields ready-made tokens as fast as they are asked
for, streams completions and chats through HTTP, and divides the server
process's CPU time (user + system, from /proc) by the tokens it sent. That is
what every token pays on top of the model's own compute, in one number that
does not depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hoshikage_core.testing.server import start_server, stop_server  # noqa: E402

PLUGIN = '''
"""A backend that costs nothing: ready-made tokens, as fast as they are asked for."""
import asyncio

from hoshikage_core import Chunk, Usage, hookimpl
from hoshikage_core.kit.fields import ALL_FIELDS


@hookimpl
def hoshikage_load(model):
    return model.name


@hookimpl
def hoshikage_generate(handle, request):
    return tokens(request.max_tokens or 16)


async def tokens(count):
    for i in range(count):
        yield Chunk(text=" tok")
        if i % 4 == 3:
            await asyncio.sleep(0)  # like the engine: a hand-over every few tokens
    yield Chunk(finish_reason="length", usage=Usage(3, count))


@hookimpl
def hoshikage_unload(handle):
    pass


@hookimpl
def hoshikage_supported_fields():
    return ALL_FIELDS
'''


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stream(url: str, path: str, body: dict[str, object]) -> int:
    events = 0
    with httpx.stream("POST", f"{url}{path}", json=body, timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                events += 1
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hoshikage-overhead-"))
    (folder / "plugins").mkdir()
    (folder / "plugins" / "null.py").write_text(PLUGIN)
    (folder / "model.bin").write_bytes(b"x")
    config = folder / "overhead.toml"
    config.write_text('[plugins]\ndir = "plugins"\n[models.null]\nbackend = "null"\n'
                      'path = "model.bin"\n')
    server = start_server(config, folder / "server.log", "--log-level", "warning")
    pid = server.process.pid
    requests = {
        "completions": ("/v1/completions", {"model": "null", "prompt": "x",
                                             "max_tokens": args.tokens, "stream": True}),
        "chat": ("/v1/chat/completions", {"model": "null", "max_tokens": args.tokens,
                                          "stream": True,
                                          "messages": [{"role": "user", "content": "x"}]}),
    }
    try:
        for path, body in requests.values():  # warm up
            stream(server.url, path, {**body, "max_tokens": 50})
        for name, (path, body) in requests.items():
            costs = []
            for _ in range(args.rounds):
                before, started = cpu_seconds(pid), time.perf_counter()
                events = stream(server.url, path, body)
                wall = time.perf_counter() - started
                costs.append((cpu_seconds(pid) - before) / events)
            print(f"{name}: {statistics.median(costs) * 1e6:.0f} µs of server CPU per "
                  f"streamed token (median of {args.rounds}; {events} tokens, "
                  f"{events / wall:.0f} tokens/s through one connection)")
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
