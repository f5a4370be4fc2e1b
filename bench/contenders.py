"""The systems under test: raw llama-cpp-python in-process, and HTTP servers.

Every server is started as a subprocess on a free loopback port with the same
model, threads and context per sequence, and is driven through the official
``openai`` SDK (legacy completions, so no chat template differs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hoshikage_backends.llamacpp.repack import repack_is_safe
from hoshikage_core.testing.server import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_llama import raw_llama  # noqa: E402

__all__ = ["LLAMA_SERVER_CACHE", "LLAMA_SERVER_NGRAM", "HttpServer", "Raw", "Settings",
           "raw_with_cache", "raw_with_lookup", "start_hoshikage", "start_llama_cpp_python",
           "start_llama_server"]


@dataclass(frozen=True)
class Settings:
    model: Path
    threads: int
    n_ctx: int  # per sequence
    slots: int  # parallel sequences for the servers that batch


@dataclass
class HttpServer:
    name: str
    url: str  # OpenAI base URL (…/v1)
    model: str
    process: subprocess.Popen[bytes]
    started_seconds: float  # from spawn to healthy
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(name: str, command: list[str], health: str, base: str, model: str,
           folder: Path, env: dict[str, str] | None = None) -> HttpServer:
    log_path = folder / f"{name}.log"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    for _ in range(3000):  # a hang guard
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                elapsed = time.perf_counter() - started
                return HttpServer(name, base, model, process, elapsed, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    process.kill()
    raise RuntimeError(f"{name} never became healthy")


def start_hoshikage(settings: Settings, folder: Path, *, preload: bool = False,
                    name: str = "hoshikage", options: str = "") -> HttpServer:
    """Hoshikage with the model as ``bench`` (parallel = slots) and a twin ``bench-b``
    sharing the file, one resident at a time, to time a model switch. ``options`` are
    more lines for the models' options table."""
    config = folder / f"{name.replace(' ', '-')}.toml"
    options = f"n_ctx = {settings.n_ctx}\nn_threads = {settings.threads}\n{options}"
    config.write_text(f"""
[defaults]
max_loaded_models = 1
idle_timeout = -1
[models.bench]
path = "{settings.model}"
parallel = {settings.slots}
preload = {str(preload).lower()}
[models.bench.options]
{options}
[models.bench-b]
path = "{settings.model}"
parallel = {settings.slots}
[models.bench-b.options]
{options}
""")
    port = free_port()
    return _spawn(name, [sys.executable, "-m", "hoshikage_core", "run", "--config",
                                str(config), "--port", str(port), "--log-level", "warning"],
                  f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/v1", "bench",
                  folder)


def start_llama_cpp_python(settings: Settings, folder: Path) -> HttpServer:
    port = free_port()
    return _spawn("llama-cpp-python server", [
        sys.executable, str(Path(__file__).with_name("raw_llama.py")),  # llama_cpp.server
        "--model", str(settings.model),
        "--model_alias", "bench", "--n_ctx", str(settings.n_ctx),
        "--n_threads", str(settings.threads), "--n_threads_batch", str(settings.threads),
        "--port", str(port), "--host", "127.0.0.1", "--verbose", "False",
    ], f"http://127.0.0.1:{port}/v1/models", f"http://127.0.0.1:{port}/v1", "bench", folder)


LLAMA_SERVER_CACHE = ["--cache-ram", "2048", "--cache-reuse", "256"]
"""llama-server's prompt cache in RAM (the size Hoshikage's defaults to) and KV-shift
reuse of moved chunks."""
LLAMA_SERVER_NGRAM = ["--spec-type", "ngram-mod", "--spec-ngram-mod-n-match", "4",
                      "--spec-ngram-mod-n-min", "2", "--spec-ngram-mod-n-max", "16"]
"""llama-server's n-gram speculation, at the setting that was fastest on the edit
workload here (ngram-simple, ngram-map-k and ngram-mod's defaults were slower)."""


def start_llama_server(binary: Path, settings: Settings, folder: Path, *,
                       name: str = "llama-server", extra: list[str] | None = None
                       ) -> HttpServer:
    port = free_port()
    return _spawn(name, [
        str(binary), "-m", str(settings.model), "--alias", "bench",
        "-c", str(settings.n_ctx * settings.slots), "-np", str(settings.slots),
        "-t", str(settings.threads), "-tb", str(settings.threads),
        "--port", str(port), "--host", "127.0.0.1", "--log-disable",
        *([] if repack_is_safe(str(settings.model)) else ["--no-repack"]),
        *LLAMA_SERVER_CACHE, *(extra or []),
    ], f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/v1", "bench", folder)


def find_llama_server(flag: str | None) -> Path | None:
    """``--llama-server PATH``, else ``$LLAMA_SERVER``, else ``llama-server`` on PATH."""
    candidate = flag or os.environ.get("LLAMA_SERVER") or shutil.which("llama-server")
    return Path(candidate) if candidate and Path(candidate).exists() else None


class Raw:
    """llama-cpp-python in-process, streaming tokens as its ``generate`` yields them."""

    name = "raw llama-cpp-python"

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        started = time.perf_counter()
        self.llama = raw_llama(settings.model, n_ctx=settings.n_ctx, n_threads=settings.threads,
                               n_threads_batch=settings.threads, verbose=False, **kwargs)
        self.load_seconds = time.perf_counter() - started

    def stream(self, prompt: str, max_tokens: int) -> tuple[float, float, int]:
        """(time to first token, end time, tokens) for one greedy completion."""
        started = time.perf_counter()
        first = 0.0
        count = 0
        self.llama.reset()  # no prompt cache across rounds, like a fresh request
        for chunk in self.llama.create_completion(prompt, max_tokens=max_tokens,
                                                  temperature=0, stream=True):
            if chunk["choices"][0]["text"]:
                count += 1
                if count == 1:
                    first = time.perf_counter() - started
        return first, time.perf_counter() - started, count

    def chat_ttft(self, messages: list[dict[str, str]], max_tokens: int = 24) -> float:
        """Time to the first token of a chat answer, from an empty cache."""
        self.llama.reset()
        started = time.perf_counter()
        first = 0.0
        for chunk in self.llama.create_chat_completion(messages,  # type: ignore[arg-type]
                                                       max_tokens=max_tokens, temperature=0,
                                                       stream=True):
            if not first and chunk["choices"][0]["delta"].get("content"):  # type: ignore[index]
                first = time.perf_counter() - started
        return first

    def close(self) -> None:
        self.llama.close()


def raw_with_cache(settings: Settings, capacity: int = 2 << 30) -> Any:
    """llama-cpp-python at its best for returning sessions: a ``LlamaRAMCache``."""
    import llama_cpp

    raw = Raw(settings)
    raw.llama.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=capacity))
    return raw.llama


def raw_with_lookup(settings: Settings, tokens: int = 10) -> Any:
    """llama-cpp-python at its best for copying answers: prompt-lookup decoding."""
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    return Raw(settings, draft_model=LlamaPromptLookupDecoding(num_pred_tokens=tokens)).llama
